/**
 * Legacy discovery: `/api` and `/apis` name the group versions, then one request per group version lists its
 * resources. For servers without aggregated discovery, and as a cross-check of it.
 */
import { ApiError } from "../http/errors.js";
import type { Transport } from "../http/transport.js";
import { asMap } from "../object/narrow.js";
import {
  assemble,
  type GroupDraft,
  type ResourceDraft,
  records,
  singularOrGuess,
  sortSubresources,
  strings,
  text,
  type VersionDraft,
} from "./result.js";
import type { ApiSubresource, DiscoveryResult } from "./types.js";

/** Default number of group versions fetched at once. */
export const defaultLegacyConcurrency = 8;

/** The path that lists one group version's resources. */
export function groupVersionPath(group: string, version: string): string {
  return group ? `/apis/${group}/${version}` : `/api/${version}`;
}

/** A group's versions from `/apis`, the preferred one first and the rest in the server's order. */
function orderedVersions(group: Record<string, unknown>): string[] {
  const listed = records(group.versions)
    .map((v) => text(v.version))
    .filter((v) => v !== "");
  const preferred = text(asMap(group.preferredVersion)?.version);
  return preferred && listed.includes(preferred) ? [preferred, ...listed.filter((v) => v !== preferred)] : listed;
}

/** The groups and their versions, in order, from the legacy `/api` (`APIVersions`) and `/apis` (`APIGroupList`). */
export function legacyGroupVersions(api: unknown, apis: unknown): { name: string; versions: string[] }[] {
  const core = { name: "", versions: strings(asMap(api)?.versions) };
  const groups = records(asMap(apis)?.groups)
    .map((g) => ({ name: text(g.name), versions: orderedVersions(g) }))
    .filter((g) => g.name !== "");
  return [...(core.versions.length > 0 ? [core] : []), ...groups];
}

/** Reads one `APIResourceList`, folding `parent/sub` entries into their parent's subresources. */
export function parseResourceList(group: string, version: string, doc: unknown): ResourceDraft[] {
  const entries = records(asMap(doc)?.resources);
  const subresources = new Map<string, ApiSubresource[]>();
  for (const e of entries) {
    const name = text(e.name);
    const slash = name.indexOf("/");
    if (slash <= 0) continue;
    const parent = name.slice(0, slash);
    const list = subresources.get(parent) ?? [];
    list.push({
      name: name.slice(slash + 1),
      group: typeof e.group === "string" ? e.group : group,
      version: text(e.version) || version,
      kind: text(e.kind),
      verbs: strings(e.verbs),
    });
    subresources.set(parent, list);
  }
  return entries.flatMap((e): ResourceDraft[] => {
    const resource = text(e.name);
    const kind = text(e.kind);
    if (!resource || resource.includes("/") || !kind) return [];
    return [
      {
        resource,
        kind,
        singular: singularOrGuess(text(e.singularName), kind),
        namespaced: e.namespaced === true,
        verbs: strings(e.verbs),
        shortNames: strings(e.shortNames),
        categories: strings(e.categories),
        subresources: sortSubresources(subresources.get(resource) ?? []),
      },
    ];
  });
}

/** Runs `fn` over `items` with at most `limit` calls in flight, keeping the results in the items' order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/** What one group version's endpoint answered: its resources, or why not (an abort fails the whole discovery). */
async function fetchVersion(
  transport: Transport,
  group: string,
  version: string,
  signal: AbortSignal | undefined,
): Promise<VersionDraft> {
  const path = groupVersionPath(group, version);
  try {
    const doc = await transport.json({ path, signal });
    return { version, resources: parseResourceList(group, version, doc) };
  } catch (err) {
    if (err instanceof ApiError && err.kind === "Aborted") throw err;
    const reason = err instanceof ApiError ? err.kind : "Unknown";
    const why = err instanceof Error ? err.message : String(err);
    return { version, unavailable: { reason, message: `GET ${path}: ${why}` } };
  }
}

/** Options of {@link fetchLegacyDiscovery}. */
export interface LegacyDiscoveryOptions {
  /** `/api` and `/apis` when already fetched (an older server answered the aggregated request with them). */
  readonly api?: unknown | undefined;
  readonly apis?: unknown | undefined;
  readonly concurrency?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Discovers everything through the legacy endpoints, with bounded concurrency. */
export async function fetchLegacyDiscovery(
  transport: Transport,
  options: LegacyDiscoveryOptions = {},
): Promise<DiscoveryResult> {
  const signal = options.signal;
  const [api, apis] = await Promise.all([
    options.api ?? transport.json({ path: "/api", signal }),
    options.apis ?? transport.json({ path: "/apis", signal }),
  ]);
  const groups = legacyGroupVersions(api, apis);
  const pairs = groups.flatMap((g) => g.versions.map((version) => ({ group: g.name, version })));
  const fetched = await mapLimit(pairs, options.concurrency ?? defaultLegacyConcurrency, async (p) => ({
    group: p.group,
    draft: await fetchVersion(transport, p.group, p.version, signal),
  }));
  const grouped: GroupDraft[] = groups.map((g) => ({
    name: g.name,
    versions: fetched.filter((f) => f.group === g.name).map((f) => f.draft),
  }));
  return assemble(grouped, "legacy");
}
