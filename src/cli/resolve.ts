/** Resolving what a user typed to kinds, as kubectl does, with "did you mean" when nothing matches. */
import type { Cluster } from "../connect.js";
import { NoMatchError, qualifiedName } from "../discovery/errors.js";
import type { Resolution } from "../discovery/snapshot-mapper.js";
import { CliError } from "./errors.js";

/** `suggestions` as full names (`widgets.example.com`) where they name one resource; categories stay as they are. */
async function qualified(cluster: Cluster, suggestions: readonly string[]): Promise<string[]> {
  const mapper = await cluster.mapper.mapper();
  const names = suggestions.map((s) => {
    try {
      return qualifiedName(mapper.resolveResource(s));
    } catch {
      return s;
    }
  });
  return [...new Set(names)];
}

/** The message for a kind the server does not serve. */
export function unknownKindMessage(input: string, suggestions: readonly string[]): string {
  return suggestions.length > 0
    ? `unknown kind "${input}"; did you mean: ${suggestions.join(", ")}?`
    : `unknown kind "${input}"; 'kindwatch kinds' lists the kinds the server serves`;
}

/** What `text` names (a category names several kinds); an unknown name fails with the closest ones. */
export async function resolveKind(cluster: Cluster, text: string, signal: AbortSignal): Promise<Resolution> {
  try {
    return await cluster.mapper.resolve(text, { signal });
  } catch (err) {
    if (!(err instanceof NoMatchError)) throw err;
    throw new CliError(unknownKindMessage(text.trim(), await qualified(cluster, err.suggestions)));
  }
}
