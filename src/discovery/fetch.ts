/** One full discovery of a server: aggregated where the server has it, else legacy. */
import type { Transport } from "../http/transport.js";
import { fetchRootDocuments, isAggregatedDocument, parseAggregatedDiscovery, type RootDocument } from "./aggregated.js";
import { fetchLegacyDiscovery } from "./legacy.js";
import type { DiscoveryResult } from "./types.js";

/** How to discover. */
export interface FetchDiscoveryOptions {
  /** Use the legacy per-group-version endpoints even where aggregated discovery is served. */
  readonly legacy?: boolean | undefined;
  /** Most legacy group-version requests in flight at once; default 8. */
  readonly concurrency?: number | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** One discovery, and the aggregated root documents it was read from (none after a fallback to legacy discovery). */
export interface DiscoveryFetch {
  readonly result: DiscoveryResult;
  readonly roots: { readonly api: RootDocument; readonly apis: RootDocument } | undefined;
}

/**
 * {@link fetchDiscovery}, revalidating root documents already `held` by their entity tags rather than fetching them
 * whole again, and returning the documents for the next revalidation.
 */
export async function fetchDiscoveryRevalidating(
  transport: Transport,
  options: FetchDiscoveryOptions,
  held: DiscoveryFetch["roots"],
): Promise<DiscoveryFetch> {
  if (options.legacy) return { result: await fetchLegacyDiscovery(transport, options), roots: undefined };
  const roots = await fetchRootDocuments(transport, options.signal, held);
  const api = roots.api.body;
  const apis = roots.apis.body;
  const apiAggregated = isAggregatedDocument(api);
  const apisAggregated = isAggregatedDocument(apis);
  if (apiAggregated && apisAggregated) return { result: parseAggregatedDiscovery(api, apis), roots };
  const result = await fetchLegacyDiscovery(transport, {
    ...options,
    ...(apiAggregated ? {} : { api }),
    ...(apisAggregated ? {} : { apis }),
  });
  return { result, roots: undefined };
}

/**
 * Everything the server serves: two requests where it has aggregated discovery (Kubernetes 1.27 and later), else one
 * per group version. The root documents of a server without it are the legacy ones, so they are not fetched twice.
 */
export async function fetchDiscovery(
  transport: Transport,
  options: FetchDiscoveryOptions = {},
): Promise<DiscoveryResult> {
  return (await fetchDiscoveryRevalidating(transport, options, undefined)).result;
}
