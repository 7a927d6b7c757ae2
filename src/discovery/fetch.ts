/** One full discovery of a server: aggregated where the server has it, else legacy. */
import type { Transport } from "../http/transport.js";
import { fetchRootDocuments, isAggregatedDocument, parseAggregatedDiscovery } from "./aggregated.js";
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

/**
 * Everything the server serves: two requests where it has aggregated discovery (Kubernetes 1.27 and later), else one
 * per group version. The root documents of a server without it are the legacy ones, so they are not fetched twice.
 */
export async function fetchDiscovery(
  transport: Transport,
  options: FetchDiscoveryOptions = {},
): Promise<DiscoveryResult> {
  if (options.legacy) return fetchLegacyDiscovery(transport, options);
  const { api, apis } = await fetchRootDocuments(transport, options.signal);
  const apiAggregated = isAggregatedDocument(api);
  const apisAggregated = isAggregatedDocument(apis);
  if (apiAggregated && apisAggregated) return parseAggregatedDiscovery(api, apis);
  return fetchLegacyDiscovery(transport, {
    ...options,
    api: apiAggregated ? undefined : api,
    apis: apisAggregated ? undefined : apis,
  });
}
