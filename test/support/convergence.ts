/**
 * What every fault test ends with: the informer's store equal to a fresh list from the server, object for object, and
 * every handler's own view of the world (built only from the adds, updates and deletes it was told) equal to it too.
 * A handler whose view still holds an object the server no longer has missed a delete; one told to add an object it
 * already holds missed a delete in between.
 *
 * A synchronous handler keeps up with any informer, so nothing ever waits in its queue and the queue's merging of
 * pending notifications is never exercised; a slow handler ({@link HandlerLog.slow}) falls behind, has its pending
 * notifications merged, and must still end with the same view.
 */
import assert from "node:assert/strict";
import type { EventHandlers, Informer } from "../../src/cache/informer.js";
import { keyOf } from "../../src/cache/store.js";
import type { ResourceClient } from "../../src/client/resource.js";
import type { KubeObject } from "../../src/object/types.js";
import { waitFor } from "./wait.js";

/** An object's identity and version: a re-created object has the same key but another uid. */
export interface Version {
  readonly uid: string;
  readonly resourceVersion: string;
}

function versionOf(obj: KubeObject): Version {
  return { uid: String(obj.metadata.uid ?? ""), resourceVersion: String(obj.metadata.resourceVersion ?? "") };
}

/** `key -> version` of a set of objects. */
export function versionsOf(objects: Iterable<KubeObject>): Map<string, Version> {
  const out = new Map<string, Version>();
  for (const obj of objects) out.set(keyOf(obj), versionOf(obj));
  return out;
}

/** Everything the server holds for `resource` (that `labelSelector` selects), page by page. */
export async function serverVersions(resource: ResourceClient, labelSelector?: string): Promise<Map<string, Version>> {
  const objects: KubeObject[] = [];
  for await (const obj of resource.listAll({ limit: 1000, ...(labelSelector ? { labelSelector } : {}) }))
    objects.push(obj);
  return versionsOf(objects);
}

/** Where two version maps differ, as short lines (empty when equal). */
export function differences(actual: Map<string, Version>, expected: Map<string, Version>, limit = 10): string[] {
  const out: string[] = [];
  for (const [key, want] of expected) {
    const got = actual.get(key);
    if (!got) out.push(`missing ${key}@${want.resourceVersion}`);
    else if (got.uid !== want.uid || got.resourceVersion !== want.resourceVersion)
      out.push(`stale ${key}: ${got.resourceVersion} (uid ${got.uid}) != ${want.resourceVersion} (uid ${want.uid})`);
  }
  for (const key of actual.keys()) if (!expected.has(key)) out.push(`extra ${key}`);
  return out.length > limit ? [...out.slice(0, limit), `... ${out.length - limit} more`] : out;
}

/** A pause of up to `maxMs`, at random: sometimes only a turn of the event loop, so that fast and slow steps mix. */
export function randomPause(maxMs: number): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      const ms = Math.random() * maxMs;
      if (ms < maxMs / 4) setImmediate(resolve);
      else setTimeout(resolve, ms);
    });
}

/** One handler's record of what it was told, and the world as that tells it. */
export class HandlerLog {
  readonly name: string;
  /** Awaited by each call before it records what it was told: the time an asynchronous handler takes. */
  readonly pause: (() => Promise<void>) | undefined;
  /** What this handler believes exists now. */
  readonly view = new Map<string, Version>();
  /** Every key this handler was ever told of. */
  readonly everSeen = new Set<string>();
  /** The keys of the deletes this handler was told, in order. */
  readonly deleted: string[] = [];
  /** Keys deleted with `finalStateUnknown` (inferred from a relist). */
  readonly unknownDeletes = new Set<string>();
  /** Things a consistent history cannot contain, e.g. an add of an object the handler holds already. */
  readonly violations: string[] = [];
  adds = 0;
  updates = 0;

  constructor(name: string, pause?: () => Promise<void>) {
    this.name = name;
    this.pause = pause;
  }

  /** A handler that takes up to `maxMs` over each notification, so that it falls behind a busy informer. */
  static slow(name: string, maxMs: number): HandlerLog {
    return new HandlerLog(name, randomPause(maxMs));
  }

  /** How many deletes this handler was told. */
  get deletes(): number {
    return this.deleted.length;
  }

  /** How many notifications this handler was told. */
  get told(): number {
    return this.adds + this.updates + this.deletes;
  }

  /** The handlers to give the informer: synchronous ones, or with a pause, ones that return a promise. */
  handlers(): EventHandlers<KubeObject> {
    const record = this.#record();
    const pause = this.pause;
    if (!pause) return record;
    return {
      add: async (obj, info) => {
        await pause();
        record.add?.(obj, info);
      },
      update: async (old, obj, info) => {
        await pause();
        record.update?.(old, obj, info);
      },
      delete: async (obj, info) => {
        await pause();
        record.delete?.(obj, info);
      },
    };
  }

  #record(): EventHandlers<KubeObject> {
    return {
      add: (obj) => {
        const key = keyOf(obj);
        this.adds++;
        if (this.view.has(key)) this.violations.push(`add of ${key}, held already: a delete was missed`);
        this.view.set(key, versionOf(obj));
        this.everSeen.add(key);
      },
      update: (old, obj) => {
        const key = keyOf(obj);
        this.updates++;
        const held = this.view.get(key);
        if (!held) this.violations.push(`update of ${key}, not held`);
        else if (held.uid !== String(old.metadata.uid ?? "") || held.uid !== String(obj.metadata.uid ?? ""))
          this.violations.push(`update of ${key} across uids: a delete was missed`);
        this.view.set(key, versionOf(obj));
      },
      delete: (obj, { finalStateUnknown }) => {
        const key = keyOf(obj);
        if (!this.view.has(key)) this.violations.push(`delete of ${key}, not held`);
        this.deleted.push(key);
        if (finalStateUnknown) this.unknownDeletes.add(key);
        this.view.delete(key);
      },
    };
  }
}

/** What {@link assertConverged} found, for the test's own assertions and for reporting. */
export interface Convergence {
  readonly objects: number;
  /** Per handler: keys ever seen that no longer exist (each was told of its delete). */
  readonly deletedSeen: Record<string, number>;
}

/**
 * Waits until the informer's store equals a fresh list of `resource` (which, with `labelSelector`, must select what the
 * informer watches, and must no longer change), then asserts that every handler's view equals it too.
 */
export async function assertConverged(
  informer: Informer<KubeObject>,
  resource: ResourceClient,
  logs: readonly HandlerLog[],
  { labelSelector, timeoutMs = 30_000 }: { labelSelector?: string; timeoutMs?: number } = {},
): Promise<Convergence> {
  const truth = await serverVersions(resource, labelSelector);
  let last: string[] = [];
  await waitFor(
    `the store to equal the server's ${truth.size} objects`,
    () => {
      last = differences(versionsOf(informer.store.list()), truth);
      return last.length === 0;
    },
    { timeoutMs, intervalMs: 100 },
  ).catch((err: Error) => {
    throw new Error(`${err.message}; differences: ${last.join("; ")}`);
  });
  await informer.idle();
  const deletedSeen: Record<string, number> = {};
  for (const log of logs) {
    assert.deepEqual(log.violations, [], `handler ${log.name} saw an inconsistent history`);
    assert.deepEqual(differences(log.view, truth), [], `handler ${log.name}'s view differs from the server`);
    deletedSeen[log.name] = [...log.everSeen].filter((k) => !truth.has(k)).length;
  }
  return { objects: truth.size, deletedSeen };
}
