/** What watch streams tell, by object name, for tests that open many watches at once. */
import type { StreamResponse } from "../../src/http/index.js";
import { JsonLineSplitter } from "../../src/http/ndjson.js";
import { waitFor } from "./wait.js";

interface Event {
  readonly object: { readonly metadata: { readonly name: string } };
}

/** The names `watch` tells of, as they arrive, and "(ended)" once it ends or fails. */
export function heard(watch: StreamResponse): string[] {
  const names: string[] = [];
  const splitter = new JsonLineSplitter();
  const ended = () => names.push("(ended)");
  watch.subscribe({
    data: (chunk) => {
      const lines: unknown[] = [];
      splitter.push(chunk, lines);
      for (const line of lines) names.push((line as Event).object.metadata.name);
    },
    end: ended,
    error: ended,
  });
  return names;
}

/** Waits until every watch told of `name`. */
export async function allHear(watches: readonly string[][], name: string): Promise<void> {
  await waitFor(`every watch to tell of ${name}`, () => watches.every((names) => names.includes(name)));
}
