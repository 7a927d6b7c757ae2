/** Options and results of the dynamic client's calls, named as the API names them. */
import type { ApiError } from "../http/errors.js";
import type { Query } from "../http/transport.js";
import type { KubeObject, ListMeta } from "../object/types.js";

/** Options every call takes. */
export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
  /** Whole-request deadline in ms; default the transport's. */
  readonly timeoutMs?: number | undefined;
}

/** Options of a get. */
export interface GetOptions extends CallOptions {
  /** "0": any version the server has at hand (its cache); absent: the latest (a quorum read). */
  readonly resourceVersion?: string | undefined;
}

/** Which objects a list or watch selects. */
export interface SelectorOptions {
  /** e.g. `app=web,tier!=cache` */
  readonly labelSelector?: string | undefined;
  /** e.g. `metadata.name=x,status.phase=Running` */
  readonly fieldSelector?: string | undefined;
}

/** Options of a list call (one page). */
export interface ListOptions extends CallOptions, SelectorOptions {
  /** Page size; the server may return fewer. */
  readonly limit?: number | undefined;
  /** The `continue` token of the previous page. */
  readonly continue?: string | undefined;
  readonly resourceVersion?: string | undefined;
  readonly resourceVersionMatch?: "NotOlderThan" | "Exact" | undefined;
}

/** Options of a watch call. */
export interface WatchOptions extends CallOptions, SelectorOptions {
  /** Start after this version; absent: start with synthetic ADDED events for everything ("Get State and Start at Most Recent"). */
  readonly resourceVersion?: string | undefined;
  readonly resourceVersionMatch?: "NotOlderThan" | "Exact" | undefined;
  /** Ask for BOOKMARK events, which advance the resourceVersion without a change. Default true. */
  readonly allowWatchBookmarks?: boolean | undefined;
  /** Ask the server to end the watch after this many seconds. */
  readonly timeoutSeconds?: number | undefined;
  /**
   * A streaming list: the current state as ADDED events, then a BOOKMARK marked `k8s.io/initial-events-end`. The server
   * requires `resourceVersionMatch: "NotOlderThan"` and bookmarks with it; both are the default then.
   */
  readonly sendInitialEvents?: boolean | undefined;
  /**
   * How many times the transport sends the request again after a `429` (or a `5xx` with `Retry-After`, or a network
   * error); default the transport's `maxRetries`. 0 fails at once, for a caller with a better answer than waiting.
   */
  readonly maxRetries?: number | undefined;
  /** Called once the server has accepted the watch (its response has begun), before any event. */
  readonly onOpen?: (() => void) | undefined;
  /**
   * Leave each object's `metadata.managedFields` out: cut from the bytes before they are parsed, which spares most of
   * the parse of an object that many managers have written.
   */
  readonly dropManagedFields?: boolean | undefined;
}

/** Options of create, update and patch. */
export interface WriteOptions extends CallOptions {
  /** Validate and return the result without persisting it. */
  readonly dryRun?: boolean | undefined;
  /** The manager recorded in managedFields; required for server-side apply. */
  readonly fieldManager?: string | undefined;
  /** What the server does with unknown or duplicate fields. */
  readonly fieldValidation?: "Strict" | "Warn" | "Ignore" | undefined;
}

/** The four patch formats: JSON patch (RFC 6902), merge patch (RFC 7386), strategic merge (built-in kinds only), apply. */
export type PatchType = "json" | "merge" | "strategic" | "apply";

/** Options of patch and apply. */
export interface PatchOptions extends WriteOptions {
  /** Server-side apply only: take ownership of fields other managers own instead of failing with a conflict. */
  readonly force?: boolean | undefined;
}

/** Options of delete. */
export interface DeleteOptions extends CallOptions {
  readonly propagationPolicy?: "Foreground" | "Background" | "Orphan" | undefined;
  readonly gracePeriodSeconds?: number | undefined;
  /** Delete only if the object still has this uid and/or resourceVersion; a mismatch is a Conflict. */
  readonly preconditions?:
    | { readonly uid?: string | undefined; readonly resourceVersion?: string | undefined }
    | undefined;
  readonly dryRun?: boolean | undefined;
}

/** Options of deleteCollection. */
export interface DeleteCollectionOptions extends DeleteOptions, SelectorOptions {}

/** The kind of a watch event. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/**
 * One event of a watch: a change to an object, a bookmark, or an error the server sent in the stream. A BOOKMARK's
 * object holds only `apiVersion`, `kind` and `metadata.resourceVersion` (and `metadata.annotations` at the end of the
 * initial events), whatever `T` says.
 */
export type WatchEvent<T = KubeObject> =
  | { readonly type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK"; readonly object: T }
  | { readonly type: "ERROR"; readonly error: ApiError; readonly object: unknown };

/**
 * Receives a pushed watch's events as each network read brings them ({@link ResourceClient.watchPush}): no promise or
 * async step per read. After the first call of `end` or `error`, nothing more.
 */
export interface WatchSink<T = KubeObject> {
  /** The events of one network read, in order; never empty. The array is the sink's to keep. */
  events(batch: WatchEvent<T>[]): void;
  /** The server ended the watch (its timeout). */
  end(): void;
  /**
   * The watch failed: `Aborted` when its signal fired, `Timeout` past its `timeoutMs`, `Network` when the connection
   * broke or a line was cut, the server's error when it refused the request, `Unknown` for a line that is no event.
   * The events read before the failure have been given to {@link WatchSink.events} first.
   */
  error(error: ApiError): void;
}

/** A pushed watch under way: flow control, and the end of it. */
export interface WatchSubscription {
  /** Reads nothing more from the network until {@link WatchSubscription.resume}: the consumer is behind. */
  pause(): void;
  /** Reads again after {@link WatchSubscription.pause}. */
  resume(): void;
  /** Ends the watch and releases its connection; the sink hears nothing more. Safe to call twice. */
  close(): void;
}

/** A `metav1.Status`, as delete and deleteCollection may return. */
export interface Status {
  readonly apiVersion: string;
  readonly kind: "Status";
  readonly status?: "Success" | "Failure";
  readonly message?: string;
  readonly reason?: string;
  readonly code?: number;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** Whether `value` is a `metav1.Status` (what delete returns once an object is gone) rather than an object. */
export function isStatus(value: unknown): value is Status {
  if (value === null || typeof value !== "object") return false;
  const { kind, apiVersion } = value as { kind?: unknown; apiVersion?: unknown };
  // A custom kind may be named Status too; the API's own is in the core or meta.k8s.io group.
  return kind === "Status" && (apiVersion === "v1" || apiVersion === "meta.k8s.io/v1");
}

/**
 * The scale subresource (`autoscaling/v1 Scale`) of a Deployment, StatefulSet, ReplicaSet or a custom kind that has
 * one. `spec.replicas` is absent when 0 (the API omits it); `status.selector` is the label selector of the pods, for
 * autoscalers.
 */
export interface Scale extends KubeObject {
  spec: { replicas?: number | undefined };
  status: { replicas: number; selector?: string | undefined };
}

/** An object's metadata only (`meta.k8s.io/v1 PartialObjectMetadata`): cheap to list and watch. */
export interface PartialObjectMetadata extends KubeObject {
  readonly kind: string;
}

/** A column of the server's Table view (what `kubectl get` prints). */
export interface TableColumn {
  readonly name: string;
  readonly type: string;
  readonly format?: string;
  readonly description?: string;
  /** 0 for the columns `kubectl get` shows; higher ones only with `-o wide`. */
  readonly priority: number;
}

/** A row of the Table view: cells in column order, and the object (or its metadata) when asked for. */
export interface TableRow {
  readonly cells: readonly unknown[];
  readonly object?: KubeObject;
}

/** The server's Table view of a list or object (`meta.k8s.io/v1 Table`). */
export interface Table {
  readonly apiVersion: string;
  readonly kind: "Table";
  readonly metadata: ListMeta;
  readonly columnDefinitions: readonly TableColumn[];
  readonly rows: readonly TableRow[];
}

/** Options of a Table request. */
export interface TableOptions extends ListOptions {
  /** What each row carries: nothing, the object's metadata (default), or the whole object. */
  readonly includeObject?: "None" | "Metadata" | "Object" | undefined;
}

/** Builds the query of a list or watch. */
export function listQuery(opts: ListOptions & WatchOptions, watch: boolean): Query {
  return {
    labelSelector: opts.labelSelector,
    fieldSelector: opts.fieldSelector,
    limit: opts.limit,
    continue: opts.continue,
    resourceVersion: opts.resourceVersion,
    resourceVersionMatch: opts.resourceVersionMatch ?? (watch && opts.sendInitialEvents ? "NotOlderThan" : undefined),
    timeoutSeconds: opts.timeoutSeconds,
    ...(watch
      ? {
          watch: true,
          allowWatchBookmarks: opts.allowWatchBookmarks ?? true,
          sendInitialEvents: opts.sendInitialEvents,
        }
      : {}),
  };
}
