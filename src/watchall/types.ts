/** The events, filters and status of the watch-all engine. */
import type { Origin } from "../cache/notify.js";
import type { ApiResource } from "../discovery/types.js";
import type { KubeObject } from "../object/types.js";

/** Which kind an event is about. */
export interface KindInfo {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly resource: string;
  readonly namespaced: boolean;
}

/** A change to one object of a watched kind. */
export interface ObjectEvent extends KindInfo {
  readonly type: "ADDED" | "MODIFIED" | "DELETED";
  /** "initial": the kind's first list; "relist": found on a relist or resume; "resync": re-delivered; "live": watched. */
  readonly origin: Origin;
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: string;
  readonly object: KubeObject;
  /** MODIFIED: the previous state. */
  readonly old?: KubeObject;
  /** MODIFIED: the dotted paths that changed (`spec.replicas`, `metadata.labels.app`). */
  readonly changedPaths?: readonly string[];
  /** DELETED: `object` is the last state seen, not the final one (the delete was inferred). */
  readonly finalStateUnknown?: boolean;
}

/** A change to the set of watched kinds. */
export interface KindEvent extends KindInfo {
  /**
   * KIND_ADDED: watching begins; KIND_SYNCED: its initial list is delivered; KIND_VERSION_CHANGED: the watch moved to
   * a new preferred version; KIND_QUARANTINED: it cannot be listed or watched now (see `reason`; retried with backoff);
   * KIND_REMOVED: it is gone (every object it had was delivered as DELETED first).
   */
  readonly type: "KIND_ADDED" | "KIND_SYNCED" | "KIND_VERSION_CHANGED" | "KIND_QUARANTINED" | "KIND_REMOVED";
  readonly reason?: string;
  readonly previousVersion?: string;
}

/** What the merged stream carries. */
export type WatchAllEvent = ObjectEvent | KindEvent;

/** Matches kinds by group, kind (or resource), or category; an empty filter matches nothing. */
export interface KindFilter {
  readonly groups?: readonly string[];
  /** Kinds (`Widget`) or resources (`widgets`), case-insensitive. */
  readonly kinds?: readonly string[];
  readonly categories?: readonly string[];
}

/** How one kind is doing. */
export interface KindStatus extends KindInfo {
  readonly state: "starting" | "syncing" | "synced" | "quarantined";
  readonly reason?: string;
  readonly objects: number;
  readonly resourceVersion?: string;
  readonly errors: number;
}

/** How the whole engine is doing. */
export interface WatchAllStatus {
  readonly kinds: readonly KindStatus[];
  readonly found: number;
  readonly synced: number;
  readonly quarantined: number;
  readonly objects: number;
}

/** The identity of a kind across versions: `resource.group`. */
export function groupResource(r: { readonly group: string; readonly resource: string }): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

/** The {@link KindInfo} of a discovered resource. */
export function kindInfo(r: ApiResource): KindInfo {
  return { group: r.group, version: r.version, kind: r.kind, resource: r.resource, namespaced: r.namespaced };
}
