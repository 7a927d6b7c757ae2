/**
 * Per-kind cache metrics against the real API server: an informer's object count equals a fresh list's, and its bytes
 * are within 1% of the fresh list's JSON (managedFields dropped, as the informer drops them) through adds, updates and
 * deletes; a keepFields informer stores only what it keeps; the watch-all engine reports the same per kind.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { keepFields } from "../../src/cache/transform.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, clientEnv, configMapsGvr, inBatches } from "../support/client.js";
import { waitFor } from "../support/wait.js";
import { EventLog, engineCluster } from "../support/watchall.js";

/** The JSON bytes of a fresh list's objects, as the default transform would keep them. */
async function listed(env: ClientEnv): Promise<{ objects: number; bytes: number; versions: string[] }> {
  const { items } = await env.client.resource(configMapsGvr).namespace(env.namespace).list();
  let bytes = 0;
  for (const item of items) {
    delete item.metadata.managedFields;
    bytes += Buffer.byteLength(JSON.stringify(item));
  }
  return { objects: items.length, bytes, versions: items.map((i) => i.metadata.resourceVersion ?? "").sort() };
}

function versions(informer: Informer<KubeObject>): string[] {
  return informer.store
    .list()
    .map((o) => o.metadata.resourceVersion ?? "")
    .sort();
}

/** A fresh list once `informer` holds exactly what it lists (a controller may add objects to a namespace). */
async function settled(env: ClientEnv, informer: Informer<KubeObject>): Promise<Awaited<ReturnType<typeof listed>>> {
  return waitFor("the informer to hold what a fresh list holds", async () => {
    const fresh = await listed(env);
    return versions(informer).join() === fresh.versions.join() && fresh;
  });
}

function assertClose(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= expected * 0.01, `${what}: ${actual} bytes, expected ${expected} ± 1%`);
}

describe("cache metrics on the real API server", () => {
  let env: ClientEnv;

  before(async () => {
    env = await clientEnv("informer-stats");
    const cms = env.client.resource(configMapsGvr).namespace(env.namespace);
    await inBatches(
      Array.from({ length: 20 }, (_, i) => i),
      8,
      (i) =>
        cms.create({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: `cm-${i}`, labels: { app: "stats", n: String(i) } },
          // Sizes vary; one value holds text JSON escapes and non-ASCII, which the estimate counts a little under.
          data: { value: "x".repeat(i * 50), ...(i === 7 ? { note: 'quoted "café"\n' } : {}) },
        }),
    );
  });
  after(() => env.close());

  it("counts an informer's objects and bytes as a fresh list does, through adds, updates and deletes", async () => {
    const cms = env.client.resource(configMapsGvr).namespace(env.namespace);
    const informer = new Informer<KubeObject>(listWatchOf(cms));
    informer.start();
    try {
      await informer.synced(AbortSignal.timeout(20_000));
      let fresh = await settled(env, informer);
      assert.ok(fresh.objects >= 20);
      let status = informer.status();
      assert.equal(status.objects, fresh.objects);
      assertClose(status.bytes, fresh.bytes, "after sync");

      await inBatches([1, 2, 3], 3, (i) => cms.patch(`cm-${i}`, { data: { value: "y".repeat(2000) } }, "merge"));
      await inBatches([4, 5, 6, 7], 4, (i) => cms.delete(`cm-${i}`));
      await cms.create({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "late" },
        data: { v: "z".repeat(999) },
      });
      fresh = await settled(env, informer);
      status = informer.status();
      assert.equal(status.objects, fresh.objects);
      assertClose(status.bytes, fresh.bytes, "after updates and deletes");
      const exact = informer.store.list().reduce((n, o) => n + JSON.stringify(o).length, 0);
      assert.ok(status.bytes <= exact, "an estimate at most the real length: escapes count one character each");
      assert.ok(status.bytes >= exact - 10, "and only a few characters under it");
    } finally {
      await informer.stop();
    }
  });

  it("stores only what keepFields keeps, still follows updates, and counts the kept bytes", async () => {
    const cms = env.client.resource(configMapsGvr).namespace(env.namespace);
    const informer = new Informer<KubeObject>(listWatchOf(cms, { labelSelector: "app=stats" }), {
      transform: keepFields(["metadata.labels.n"]),
    });
    const updates: string[] = [];
    informer.addHandlers({
      update: (before, after) => void updates.push(`${before.metadata.name} ${after.metadata.labels?.n}`),
    });
    informer.start();
    try {
      await informer.synced(AbortSignal.timeout(20_000));
      const one = informer.store.get(`${env.namespace}/cm-0`);
      assert.deepEqual(Object.keys(one ?? {}).sort(), ["apiVersion", "kind", "metadata"]);
      assert.deepEqual(Object.keys(one?.metadata ?? {}).sort(), [
        "labels",
        "name",
        "namespace",
        "resourceVersion",
        "uid",
      ]);
      assert.deepEqual(one?.metadata.labels, { n: "0" });
      await cms.patch("cm-0", { metadata: { labels: { n: "zero" } } }, "merge");
      await waitFor("the update", () => updates.includes("cm-0 zero"));
      const exact = informer.store.list().reduce((n, o) => n + JSON.stringify(o).length, 0);
      const status = informer.status();
      assert.equal(status.bytes, exact, "kept objects hold nothing JSON escapes: the estimate is exact");
      const labelled = await cms.list({ labelSelector: "app=stats" });
      assert.equal(status.objects, labelled.items.length);
    } finally {
      await informer.stop();
    }
  });

  it("reports each watched kind's objects and bytes in the watch-all engine's status", async () => {
    const log = EventLog.start(engineCluster(env.transport), {
      include: { kinds: ["configmaps"], namespaces: [env.namespace] },
    });
    try {
      await log.kindEvent("", "KIND_SYNCED");
      const { fresh, status, kind } = await waitFor("the engine to hold what a fresh list holds", async () => {
        const fresh = await listed(env);
        const status = log.engine.status();
        const kind = status.kinds.find((k) => k.resource === "configmaps");
        return kind?.objects === fresh.objects && { fresh, status, kind };
      });
      assert.equal(kind?.objects, fresh.objects);
      assertClose(kind?.bytes ?? 0, fresh.bytes, "watch-all");
      assert.equal(status.bytes, kind?.bytes, "one kind watched: the total is its bytes");
    } finally {
      await log.stop();
    }
  });
});
