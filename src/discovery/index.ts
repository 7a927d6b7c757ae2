/**
 * Discovery and REST mapping: what a cluster serves (aggregated discovery, legacy as fallback), cached; kinds mapped to
 * resources and back; names as users type them resolved as kubectl resolves them.
 *
 * @example
 * const discovery = new DiscoveryClient(transport);
 * const mapper = new RestMapper(discovery);
 * const { resources } = await mapper.resolve("deploy");   // apps/v1 deployments
 */

/** Reading captured aggregated discovery documents (`/api`, `/apis`) without a server. */
export { parseAggregatedDiscovery, type RootDocument } from "./aggregated.js";
/** The cached, shared discovery client and the clock of its snapshots. */
export { DiscoveryClient, type DiscoveryClientOptions, discoveryNow, type RefreshOptions } from "./client.js";
/** Discovery kept on disk between processes, as kubectl keeps it: where, and for how long. */
export {
  type CachedDiscovery,
  DiscoveryDiskCache,
  type DiscoveryDiskCacheOptions,
  defaultCacheRoot,
  defaultDiscoveryCacheTtlMs,
  discoveryCacheDir,
} from "./disk-cache.js";
/** Mapping errors: nothing matched (with suggestions), or more than one thing did; and kubectl's name for a resource. */
export { AmbiguousError, NoMatchError, qualifiedName } from "./errors.js";
/** One uncached discovery, aggregated or legacy. */
export {
  type DiscoveryFetch,
  type FetchDiscoveryOptions,
  fetchDiscovery,
  fetchDiscoveryRevalidating,
} from "./fetch.js";
/** The live REST mapper, refreshing discovery once on a miss. */
export { type MapOptions, RestMapper, type RestMapperOptions } from "./mapper.js";
/** Mapping over one snapshot, synchronously; built-in groups; one resource per type at its preferred version. */
export { isBuiltinGroup, preferredResources, type Resolution, SnapshotMapper } from "./snapshot-mapper.js";
/** "Did you mean": edit distance and closest names. */
export { type Candidate, closest, editDistance } from "./suggest.js";
/** The shapes of discovery data. */
export type {
  ApiGroup,
  ApiResource,
  ApiSubresource,
  DiscoveryResult,
  DiscoverySnapshot,
  DiscoverySource,
  GroupVersionKind,
  GroupVersionResource,
  KindRef,
  ResourceRef,
  UnavailableGroupVersion,
} from "./types.js";
