import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { KubeObject } from "../../src/object/types.js";
import { attachCluster } from "../../src/testing/index.js";
import { clientFor, configMapsGvr as configmaps, namespacesGvr as namespaces } from "../support/client.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("informer on the real API server", () => {
  const ns = uniqueName("informer");
  let conn: ReturnType<typeof clientFor>;

  before(async () => {
    const cluster = await attachCluster();
    conn = clientFor(cluster.kubeconfigPath);
    await conn.client.resource(namespaces).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  });
  after(() => conn.transport.close());

  for (const streamingList of [true, false]) {
    it(`lists, syncs and follows adds, updates and deletes (streaming list: ${streamingList})`, async () => {
      const cms = conn.client.resource(configmaps).namespace(ns);
      const prefix = streamingList ? "s" : "p";
      for (let i = 0; i < 3; i++) {
        await cms.create({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: `${prefix}-${i}` },
          data: { i: `${i}` },
        });
      }
      const seen: string[] = [];
      const informer = new Informer<KubeObject>(listWatchOf(cms), { streamingList });
      informer.addHandlers({
        add: (o, { origin }) => void seen.push(`add ${o.metadata.name} ${origin}`),
        update: (a, b) =>
          void seen.push(`update ${b.metadata.name} ${(a.data as { i: string }).i}->${(b.data as { i: string }).i}`),
        delete: (o, { finalStateUnknown }) => void seen.push(`delete ${o.metadata.name} ${finalStateUnknown}`),
      });
      informer.start();
      await informer.synced(AbortSignal.timeout(20_000));
      const mine = () => informer.store.list().filter((o) => o.metadata.name?.startsWith(`${prefix}-`));
      assert.equal(mine().length, 3);
      assert.equal(informer.store.get(`${ns}/${prefix}-1`)?.metadata.managedFields, undefined, "managedFields dropped");
      await cms.patch(`${prefix}-1`, { data: { i: "x" } }, "merge");
      await cms.delete(`${prefix}-2`);
      await cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${prefix}-3` } });
      await waitFor("the live events", () => seen.length >= 6 && informer.store.get(`${ns}/${prefix}-3`));
      await informer.idle();
      const events = seen.filter((e) => e.includes(` ${prefix}-`));
      assert.deepEqual(
        events.slice(0, 3).sort(),
        [0, 1, 2].map((i) => `add ${prefix}-${i} initial`),
      );
      assert.deepEqual(events.slice(3), [
        `update ${prefix}-1 1->x`,
        `delete ${prefix}-2 false`,
        `add ${prefix}-3 live`,
      ]);
      assert.deepEqual(
        mine()
          .map((o) => o.metadata.name)
          .sort(),
        [0, 1, 3].map((i) => `${prefix}-${i}`),
      );
      await informer.stop();
    });
  }
});
