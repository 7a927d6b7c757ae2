/** The events, filters and status of the watch-all engine. */
import type { InformerStatus } from "../cache/informer.js";
import type { Origin } from "../cache/notify.js";
import type { ApiResource } from "../discovery/types.js";
import type { ApiError } from "../http/errors.js";
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
  /**
   * "initial": from the kind's first list; "relist": found by a relist, a resume from a checkpoint or a version move
   * (what changed while no watch was open); "resync": an unchanged object delivered again; "live": seen by the watch
   * (and the removal of a kind: see {@link KindEvent}).
   */
  readonly origin: Origin;
  readonly namespace: string;
  readonly name: string;
  readonly resourceVersion: string;
  readonly object: KubeObject;
  /** MODIFIED: the previous state; undefined when it is not known (resumed from a checkpoint). */
  readonly old?: KubeObject;
  /**
   * MODIFIED: the dotted paths that changed (`spec.replicas`, `metadata.labels.app`), sorted; `[]` for a resync;
   * undefined when the previous state is not known (resumed from a checkpoint).
   */
  readonly changedPaths?: readonly string[];
  /**
   * DELETED: true when the delete was inferred (by a relist, a resume or a kind's removal) rather than watched:
   * `object` is then the last state seen, or for a resume only its name, namespace, uid and resourceVersion.
   */
  readonly finalStateUnknown?: boolean;
}

/** A change to the set of watched kinds. */
export interface KindEvent extends KindInfo {
  /**
   * KIND_ADDED: watching begins (objects follow once it is listed); KIND_SYNCED: its initial list (or resume) has been
   * delivered, or it delivers again after KIND_QUARANTINED; KIND_VERSION_CHANGED: the watch moved to a new
   * preferred version (`previousVersion`) without replaying unchanged objects (what changed meanwhile follows, origin
   * "relist", never older than what was told); KIND_QUARANTINED: it cannot be listed now (see `reason`: forbidden, conversion webhook down,
   * API unavailable) and is retried with backoff, other kinds carry on; KIND_REMOVED: it is no longer served (or
   * selected) and is no longer watched. Before KIND_REMOVED, every object of the kind the stream had delivered and
   * not deleted is delivered as DELETED with `finalStateUnknown`, so that a consumer's view ends empty.
   */
  readonly type: "KIND_ADDED" | "KIND_SYNCED" | "KIND_VERSION_CHANGED" | "KIND_QUARANTINED" | "KIND_REMOVED";
  /** KIND_QUARANTINED and KIND_REMOVED: why. */
  readonly reason?: string;
  /** KIND_VERSION_CHANGED: the version watched before. */
  readonly previousVersion?: string;
}

/** What the merged stream carries. */
export type WatchAllEvent = ObjectEvent | KindEvent;

/**
 * Selects kinds and objects. A kind is named by a filter when one of `groups`, `kinds` or `categories` names it;
 * `namespaces` applies to objects.
 */
export interface KindFilter {
  /** API groups; `""` is the core group. */
  readonly groups?: readonly string[] | undefined;
  /** Kinds (`Widget`) or resources (`widgets`; `widgets.example.com`, `pods.` for one group's only), case-insensitive. */
  readonly kinds?: readonly string[] | undefined;
  readonly categories?: readonly string[] | undefined;
  /**
   * Include: only objects in these namespaces (cluster-scoped kinds are then left out); one namespace is watched as
   * such, several are watched cluster-wide and filtered here. Exclude: objects in these namespaces are left out (by
   * field selector, on the server).
   */
  readonly namespaces?: readonly string[] | undefined;
}

/** How one kind is doing. */
export interface KindStatus extends KindInfo {
  /** "removing": its remaining objects are being delivered as DELETED. */
  readonly state: "starting" | "syncing" | "synced" | "quarantined" | "removing";
  /** Why it is quarantined, or the last error of a synced kind whose watch is failing now. */
  readonly reason?: string;
  readonly objects: number;
  /** Its cached objects' estimated size as compact JSON: for a metric such as `kindwatch_cache_bytes`. */
  readonly bytes: number;
  /** The last resourceVersion its informer has seen. */
  readonly resourceVersion?: string;
  /**
   * The latest error of the failures going on now: of its list and watch, or a denied access review (as a Forbidden
   * error); undefined when healthy.
   */
  readonly lastError?: ApiError;
  /**
   * Failed attempts in a row (lists and watches, or access reviews that denied it); 0 when healthy, which a readiness
   * probe can require. See {@link InformerStatus.consecutiveErrors}.
   */
  readonly consecutiveErrors: number;
  /**
   * When the next attempt is due, in epoch milliseconds (`Date.now()`'s scale): in the future while it waits, in the
   * past while that attempt is under way; undefined when healthy or when nothing is retried until the kind changes.
   */
  readonly nextRetryAt?: number;
  /** Objects its transform or an index function threw on, since the kind was first watched (a counter). */
  readonly objectErrors: number;
  /** Handler calls of its informers that threw, since the kind was first watched (a counter). */
  readonly handlerErrors: number;
}

/** How the whole engine is doing. */
export interface WatchAllStatus {
  readonly kinds: readonly KindStatus[];
  /** Kinds followed now (all states). */
  readonly watched: number;
  readonly synced: number;
  readonly quarantined: number;
  readonly objects: number;
  /** The cached objects' estimated size as compact JSON, all kinds together. */
  readonly bytes: number;
}

/** The identity of a kind across versions: `resource.group` (`resource` for the core group). */
export function groupResource(r: { readonly group: string; readonly resource: string }): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

/** The {@link KindInfo} of a discovered resource. */
export function kindInfo(r: KindInfo | ApiResource): KindInfo {
  return { group: r.group, version: r.version, kind: r.kind, resource: r.resource, namespaced: r.namespaced };
}
