/** What discovery tells about a cluster: its groups, versions and resource types. */
import type { GroupVersionKind, GroupVersionResource } from "../client/gvr.js";
import type { ErrorKind } from "../http/errors.js";

export type { GroupVersionKind, GroupVersionResource };

/** A resource named by group and plural name, with the version left to the mapper when absent. */
export interface ResourceRef {
  readonly group: string;
  readonly version?: string | undefined;
  /** The plural name (`deployments`) or the singular one (`deployment`). */
  readonly resource: string;
}

/** A kind named by group, with the version left to the mapper when absent. */
export interface KindRef {
  readonly group: string;
  readonly version?: string | undefined;
  readonly kind: string;
}

/** A subresource of a resource: `status`, `scale`, `log`, `exec`, ... */
export interface ApiSubresource {
  /** The last path segment, e.g. `scale`. */
  readonly name: string;
  /** The group of the kind its endpoint takes and returns (`autoscaling` for `scale`). */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly verbs: readonly string[];
}

/** One resource type the server serves at one group version, with everything the mapper needs. */
export interface ApiResource extends GroupVersionResource {
  readonly kind: string;
  /** The singular, lowercase name (`deployment`); kubectl accepts it wherever it accepts the plural. */
  readonly singular: string;
  /** Whether objects live in a namespace (`Namespaced` scope) rather than in the cluster (`Cluster` scope). */
  readonly namespaced: boolean;
  readonly verbs: readonly string[];
  readonly shortNames: readonly string[];
  /** Groupings such as `all` that kubectl expands to every resource in them. */
  readonly categories: readonly string[];
  readonly subresources: readonly ApiSubresource[];
  /** Whether `version` is its group's preferred version. */
  readonly preferred: boolean;
}

/** An API group and the versions of it that answered, most preferred first. */
export interface ApiGroup {
  /** "" for the core group (`/api`). */
  readonly name: string;
  /** The versions that answered, in the server's order of preference. */
  readonly versions: readonly string[];
  /** The first version that answered; undefined when none did. */
  readonly preferredVersion: string | undefined;
}

/** A group version that discovery could not read; its resources are missing from the result. */
export interface UnavailableGroupVersion {
  readonly group: string;
  readonly version: string;
  /**
   * `Stale` when aggregated discovery marked it so (the aggregated API server behind it does not answer), else the kind
   * of the error its legacy endpoint answered with (`ServiceUnavailable` for a down aggregated API server).
   */
  readonly reason: "Stale" | ErrorKind;
  readonly message: string;
}

/** Which protocol a discovery result came from. */
export type DiscoverySource = "aggregated" | "legacy";

/** Everything discovery found, in the server's order: the core group first, then groups by priority. */
export interface DiscoveryResult {
  readonly groups: readonly ApiGroup[];
  /** Every resource at every version that answered, by group, then version preference, then name. */
  readonly resources: readonly ApiResource[];
  readonly unavailable: readonly UnavailableGroupVersion[];
  readonly source: DiscoverySource;
}

/** A {@link DiscoveryResult} as cached by the discovery client. */
export interface DiscoverySnapshot extends DiscoveryResult {
  /** When its fetch started, in epoch milliseconds with sub-millisecond precision. */
  readonly fetchedAt: number;
  /** 1 for the first fetch of a client, counting up with every fetch that completes. */
  readonly generation: number;
}
