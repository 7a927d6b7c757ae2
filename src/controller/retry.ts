/** What finalizer and status writes share: the client for an object's namespace, and retrying a conflict. */
import { delay } from "../cache/backoff.js";
import type { ResourceClient } from "../client/resource.js";
import { isConflict } from "../http/errors.js";
import * as meta from "../object/meta.js";
import type { KubeObject } from "../object/types.js";

/** How often a write that meets a Conflict is tried in all: client-go's `retry.DefaultRetry` makes 5 attempts. */
export const conflictAttempts = 5;

/** `client` in `obj`'s namespace when it names none, so that a cluster-wide client can write any object it read. */
export function clientFor<T extends KubeObject>(client: ResourceClient<T>, obj: unknown): ResourceClient<T> {
  const ns = meta.namespace(obj);
  return client.namespaceName === undefined && ns ? client.namespace(ns) : client;
}

/** The object's name, which every write here needs. */
export function nameOf(obj: unknown, what: string): string {
  const name = meta.name(obj);
  if (!name) throw new TypeError(`${what}: the object has no metadata.name`);
  return name;
}

/** Waits about `ms` (client-go's 10 ms with 10% jitter between conflict retries); rejects when `signal` fires. */
export async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (!(await delay(ms * (1 + Math.random() * 0.1), signal))) throw signal?.reason;
}

/**
 * Runs `attempt` with the state it should start from, and on a Conflict reads fresh state with `refresh` and runs it
 * again, up to {@link conflictAttempts} times; the last Conflict, and any other error, is thrown.
 */
export async function retryOnConflict<S, R>(
  initial: S,
  attempt: (state: S) => Promise<R>,
  refresh: () => Promise<S>,
  signal: AbortSignal | undefined,
): Promise<R> {
  let state = initial;
  for (let tries = 1; ; tries++) {
    try {
      return await attempt(state);
    } catch (err) {
      if (!isConflict(err) || tries >= conflictAttempts) throw err;
    }
    await pause(10, signal);
    state = await refresh();
  }
}
