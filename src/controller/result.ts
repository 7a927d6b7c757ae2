/** What a reconcile asks for next, the keys it is called with, and the error that is not worth retrying. */
import type { KubeObject } from "../object/types.js";

/** The object a reconcile is about: `namespace/name` of the primary (no namespace for a cluster-scoped kind). */
export interface Request {
  readonly namespace?: string | undefined;
  readonly name: string;
}

/** What happens to a key after its reconcile: nothing until the next change, a retry, or a run after a delay. */
export type Result =
  | { readonly requeue: false }
  | { readonly requeue: true; readonly afterMs?: undefined }
  | { readonly requeue: true; readonly afterMs: number };

/** Done: the key waits for the next change of what is watched. */
export function done(): Result {
  return { requeue: false };
}

/** Run the key again after the rate limiter's delay, as controller-runtime's `Result{Requeue: true}`. */
export function requeue(): Result {
  return { requeue: true };
}

/** Run the key again after `ms` (also when nothing changes), as controller-runtime's `Result{RequeueAfter}`. */
export function requeueAfter(ms: number): Result {
  if (!(ms >= 0)) throw new RangeError(`requeueAfter needs a delay >= 0 ms, not ${ms}`);
  return { requeue: true, afterMs: ms };
}

/**
 * A failure that retrying cannot fix (an invalid spec, a missing reference): the key is not retried and waits for the
 * next change; the controller records a Warning Event with `reason` when it has an EventRecorder.
 */
export class PermanentError extends Error {
  override readonly name = "PermanentError";
  /** The Event's and condition's reason, UpperCamelCase. */
  readonly reason: string;

  constructor(message: string, options: { reason?: string | undefined; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.reason = options.reason ?? "ReconcileFailed";
  }
}

/** The workqueue key of a request: `namespace/name`, or `name` (client-go's MetaNamespaceKeyFunc). */
export function requestKey(req: Request): string {
  return req.namespace ? `${req.namespace}/${req.name}` : req.name;
}

/** The request a workqueue key names. */
export function requestOf(key: string): Request {
  const slash = key.indexOf("/");
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The request naming `obj`. */
export function requestFor(obj: KubeObject): Request {
  const { namespace, name = "" } = obj.metadata;
  return namespace ? { namespace, name } : { name };
}
