/**
 * A finalizer around a reconciler's work, as kube-rs's `finalizer()` and controller-runtime's finalizer package do it:
 * the finalizer is on the object before any side effect, so a deletion always waits for the cleanup; cleanup runs once
 * the object is being deleted; the finalizer comes off only after the cleanup succeeded.
 */
import type { CallOptions } from "../client/options.js";
import type { ResourceClient } from "../client/resource.js";
import { isNotFound } from "../http/errors.js";
import { deepCopy } from "../object/copy.js";
import * as meta from "../object/meta.js";
import { describeMiss } from "../object/result.js";
import type { KubeObject } from "../object/types.js";
import { lookup } from "../object/walk.js";
import { clientFor, nameOf, retryOnConflict } from "./retry.js";

/** What {@link withFinalizer} runs: `ensure` while the object lives, `cleanup` once it is being deleted. */
export interface FinalizerHandlers<T extends KubeObject, R> {
  /** Brings the world in line with the object; runs only once the finalizer is on it (the object given has it). */
  ensure(obj: T): Promise<R>;
  /** Undoes what `ensure` did; a rejection keeps the finalizer (and so the object) for the next attempt. */
  cleanup(obj: T): Promise<void>;
}

/** Options of {@link withFinalizer}. */
export interface FinalizerOptions extends CallOptions {
  /** The manager recorded in managedFields for the finalizer edits. */
  readonly fieldManager?: string | undefined;
}

type Edit = "add" | "remove";

/**
 * Adds or removes `finalizer` with optimistic concurrency: a merge patch that carries the resourceVersion the edit was
 * made on, so a concurrent change is a Conflict (never a lost finalizer of someone else), retried on a fresh read.
 * Returns the object as written, the object unchanged when there was nothing to do, or undefined once it is gone (or
 * was replaced by another object of the same name). A finalizer is never added to an object being deleted: the server
 * refuses new finalizers then, and the cleanup is what is due.
 */
async function editFinalizer<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  finalizer: string,
  edit: Edit,
  options: FinalizerOptions,
): Promise<T | undefined> {
  const name = nameOf(obj, "withFinalizer");
  const target = clientFor(client, obj);
  const uid = meta.uid(obj);
  const call = { signal: options.signal, timeoutMs: options.timeoutMs };
  const fresh = async (): Promise<T | undefined> => {
    try {
      const current = await target.get(name, call);
      return uid === undefined || meta.uid(current) === uid ? current : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };
  const start = meta.resourceVersion(obj) === undefined ? await fresh() : obj;
  return retryOnConflict(
    start,
    async (current) => {
      if (current === undefined) return undefined;
      if (edit === "add" && meta.isBeingDeleted(current)) return current;
      const copy = deepCopy(current);
      const result = edit === "add" ? meta.addFinalizer(copy, finalizer) : meta.removeFinalizer(copy, finalizer);
      if (!result.ok) throw new TypeError(`${name}: cannot edit its finalizers: ${describeMiss(result)}`);
      if (!result.changed) return current;
      const finalizers = lookup(copy, ["metadata", "finalizers"]);
      const patch = {
        metadata: {
          resourceVersion: meta.resourceVersion(current),
          finalizers: finalizers.found ? finalizers.value : null,
        },
      };
      try {
        return await target.patch(name, patch, "merge", { ...call, fieldManager: options.fieldManager });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    fresh,
    options.signal,
  );
}

/**
 * Runs a reconciler's work under `finalizer` on `obj`. While the object lives, the finalizer is added first (a write,
 * skipped when it is there) and `ensure` runs on the object as written; its result is returned. Once the object is being
 * deleted and still carries the finalizer, `cleanup` runs and, only when it resolves, the finalizer is removed (the
 * server then deletes the object when no other finalizer holds it); undefined is returned then, as when the object is
 * being deleted without our finalizer or is gone. A rejected `cleanup` is rethrown with the finalizer left in place.
 * Writes use optimistic concurrency and retry a Conflict on a fresh read; `obj` may come from an informer's cache (it is
 * not edited). `client` is the object's resource, in its namespace or cluster-wide.
 */
export async function withFinalizer<T extends KubeObject, R>(
  client: ResourceClient<T>,
  obj: T,
  finalizer: string,
  handlers: FinalizerHandlers<T, R>,
  options: FinalizerOptions = {},
): Promise<R | undefined> {
  let current: T | undefined = obj;
  if (!meta.isBeingDeleted(current)) {
    current = await editFinalizer(client, current, finalizer, "add", options);
    if (current === undefined) return undefined;
    if (!meta.isBeingDeleted(current)) return handlers.ensure(current);
  }
  if (!meta.hasFinalizer(current, finalizer)) return undefined;
  await handlers.cleanup(current);
  await editFinalizer(client, current, finalizer, "remove", options);
  return undefined;
}

/**
 * Removes `finalizer` from a live object whose cleanup is done while it lives on (what needed the finalizer is gone
 * from its spec), with the optimistic concurrency of {@link withFinalizer}. Returns the object as written, unchanged
 * when it had no such finalizer, or undefined once it is gone.
 */
export function releaseFinalizer<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  finalizer: string,
  options: FinalizerOptions = {},
): Promise<T | undefined> {
  return editFinalizer(client, obj, finalizer, "remove", options);
}
