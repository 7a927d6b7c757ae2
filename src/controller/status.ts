/**
 * Writing a reconciler's status: conditions and `observedGeneration`, as a merge patch of what changed, through the
 * status subresource (or the object, for a custom kind without one), locked on resourceVersion and retried on a fresh
 * read after a Conflict. Nothing is sent when the status would not change, so a steady-state reconcile writes nothing.
 */
import { isDeepStrictEqual } from "node:util";
import { formatGvr } from "../client/gvr.js";
import type { CallOptions } from "../client/options.js";
import type { ResourceClient } from "../client/resource.js";
import type { ApiResource } from "../discovery/types.js";
import { isNotFound } from "../http/errors.js";
import type { Transport } from "../http/transport.js";
import { type ConditionInput, setCondition } from "../object/conditions.js";
import { deepCopy } from "../object/copy.js";
import * as meta from "../object/meta.js";
import { isMap } from "../object/narrow.js";
import { set } from "../object/nested-set.js";
import { hasOwnData, readOwn, writeOwn } from "../object/own.js";
import { describeMiss } from "../object/result.js";
import type { Clock } from "../object/time.js";
import type { KubeObject } from "../object/types.js";
import { clientFor, nameOf, retryOnConflict } from "./retry.js";

/** The status a reconciler wants: conditions, `observedGeneration`, and any other fields through `edit`. */
export interface StatusUpdate<T extends KubeObject = KubeObject> {
  /** Set as `setCondition` sets them: `lastTransitionTime` moves only when a condition's status changes. */
  readonly conditions?: readonly ConditionInput[] | undefined;
  /**
   * Whether `status.observedGeneration` is set; default true. It and each condition's `observedGeneration` are `obj`'s
   * `metadata.generation`, the one the reconcile acted on, also when a Conflict sends the write to a newer object.
   */
  readonly observedGeneration?: boolean | undefined;
  /** Further edits of the object's status, made on a copy of the freshest object (again after a Conflict). */
  readonly edit?: ((obj: T) => void) | undefined;
}

/** Options of {@link setStatus}. */
export interface StatusOptions extends CallOptions {
  /** The manager recorded in managedFields. */
  readonly fieldManager?: string | undefined;
  /**
   * Whether the resource has a status subresource (from discovery: {@link hasStatusSubresource}). When absent, the first
   * write goes to `/status`, and a 404 there for an object that exists means the kind has none: the status is then
   * written on the object itself, and that is remembered for the resource on this transport.
   */
  readonly subresource?: boolean | undefined;
  /** Where "now" comes from for a condition's `lastTransitionTime`; tests pass a fixed clock. */
  readonly now?: Clock | undefined;
}

/** Whether discovery lists a `status` subresource for `resource`. */
export function hasStatusSubresource(resource: Pick<ApiResource, "subresources">): boolean {
  return resource.subresources.some((sub) => sub.name === "status");
}

/** What the 404 probe learned, per transport and resource: false where the status lives on the object itself. */
const learned = new WeakMap<Transport, Map<string, boolean>>();

function known(client: ResourceClient<KubeObject>): boolean | undefined {
  return learned.get(client.transport)?.get(formatGvr(client.gvr));
}

function learn(client: ResourceClient<KubeObject>, subresource: boolean): void {
  const byResource = learned.get(client.transport) ?? new Map<string, boolean>();
  learned.set(client.transport, byResource);
  byResource.set(formatGvr(client.gvr), subresource);
}

const statusOf = (obj: unknown): unknown => (isMap(obj) ? readOwn(obj, "status") : undefined);

/** The JSON merge patch (RFC 7386) that turns `before` into `after`: changed keys only, removed ones as null. */
function mergePatch(before: unknown, after: unknown): unknown {
  if (after === undefined) return null;
  if (!isMap(before) || !isMap(after)) return after;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(before)) {
    if (!hasOwnData(after, key)) writeOwn(patch, key, null);
  }
  for (const key of Object.keys(after)) {
    const was = readOwn(before, key);
    const now = readOwn(after, key);
    if (!hasOwnData(before, key) || !isDeepStrictEqual(was, now)) writeOwn(patch, key, mergePatch(was, now));
  }
  return patch;
}

/**
 * `update` made on a copy of `base`. `observed` is the generation the reconcile acted on: after a Conflict, `base` is
 * a fresher object whose spec may be newer than what the reconcile saw, and stamping its generation would claim work
 * that was not done.
 */
function edited<T extends KubeObject>(
  base: T,
  update: StatusUpdate<T>,
  options: StatusOptions,
  observed: number | undefined,
): T {
  const copy = deepCopy(base);
  for (const input of update.conditions ?? []) {
    const condition =
      input.observedGeneration === undefined && observed !== undefined
        ? { ...input, observedGeneration: observed }
        : input;
    const result = setCondition(copy, condition, { now: options.now });
    if (!result.ok)
      throw new TypeError(`${meta.name(base)}: cannot set condition ${condition.type}: ${describeMiss(result)}`);
  }
  if (update.observedGeneration !== false && observed !== undefined) {
    const result = set(copy, observed, "status", "observedGeneration");
    if (!result.ok)
      throw new TypeError(`${meta.name(base)}: cannot set status.observedGeneration: ${describeMiss(result)}`);
  }
  update.edit?.(copy);
  return copy;
}

/**
 * Sets `obj`'s status conditions and `observedGeneration` (and whatever `update.edit` changes) on the server, and
 * returns the object as written. When the status would not change, no request is sent and `obj` is returned: pass the
 * object the reconcile read (an informer's cached copy is fine, it is not edited). The write is a merge patch of the
 * changed status fields carrying `obj`'s resourceVersion; a Conflict reads the object again and redoes the edit on it,
 * skipping the write if the fresh object already has the wanted status. `client` is the object's resource.
 */
export async function setStatus<T extends KubeObject>(
  client: ResourceClient<T>,
  obj: T,
  update: StatusUpdate<T>,
  options: StatusOptions = {},
): Promise<T> {
  const name = nameOf(obj, "setStatus");
  const target = clientFor(client, obj);
  const call = { signal: options.signal, timeoutMs: options.timeoutMs };
  const write = { ...call, fieldManager: options.fieldManager };
  const fresh = () => target.get(name, call);
  const start = meta.resourceVersion(obj) === undefined ? await fresh() : obj;
  const observed = meta.generation(obj) ?? meta.generation(start);
  return retryOnConflict(
    start,
    async (current) => {
      const wanted = edited(current, update, options, observed);
      const before = statusOf(current);
      const after = statusOf(wanted);
      if (isDeepStrictEqual(before, after)) return current;
      const patch = { metadata: { resourceVersion: meta.resourceVersion(current) }, status: mergePatch(before, after) };
      const subresource = options.subresource ?? known(target);
      if (subresource === false) return target.patch(name, patch, "merge", write);
      try {
        const written = await target.patchStatus(name, patch, "merge", write);
        if (options.subresource === undefined) learn(target, true);
        return written;
      } catch (err) {
        if (subresource === true || !isNotFound(err)) throw err;
        // A kind without the subresource answers 404 for the route: told apart from a deleted object by a read.
        await fresh();
        learn(target, false);
        return target.patch(name, patch, "merge", write);
      }
    },
    fresh,
    options.signal,
  );
}
