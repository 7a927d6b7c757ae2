/**
 * etcd compacted past the informer's resourceVersion while the informer is cut off. With the watch cache off, its
 * re-watch goes to etcd, which answers `410 Gone`; the informer must relist and deliver the deletes it missed, with
 * `finalStateUnknown`, as well as the updates, the adds, and a delete-and-recreate under the same name.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { ApiError } from "../../src/http/errors.js";
import type { KubeObject } from "../../src/object/types.js";
import { clientFor, configMapsGvr as configmaps } from "../support/client.js";
import { assertConverged, HandlerLog } from "../support/convergence.js";
import { cleanups, createNamespace, faultCluster, kubeconfigVia } from "../support/faults.js";
import { TcpProxy } from "../support/proxy.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("etcd compacted while the informer is cut off (watch cache off)", () => {
  const ns = uniqueName("compact");
  let env: Awaited<ReturnType<typeof faultCluster>>;
  let proxy: TcpProxy;
  const cleanup = cleanups();
  afterEach(() => cleanup.run());

  before(async () => {
    env = await faultCluster({ watchCache: false });
    proxy = await TcpProxy.start(env.cluster.server);
    await createNamespace(env.admin.client, ns);
  });
  after(async () => {
    await proxy?.close();
    await env?.close();
  });

  for (const streamingList of [true, false]) {
    it(`reports Gone, relists, and delivers the missed deletes (streaming list: ${streamingList})`, {
      timeout: 60_000,
    }, async () => {
      const p = streamingList ? "s" : "p";
      const cms = env.admin.client.resource(configmaps).namespace(ns);
      const conn = clientFor(await kubeconfigVia(env.cluster, proxy.url));
      cleanup.defer(() => conn.transport.close());
      const selection = { labelSelector: `run=${p}` };
      const make = (name: string) =>
        cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels: { run: p } }, data: { v: "0" } });
      for (let i = 0; i < 20; i++) await make(`${p}-${i}`);

      const informer = new Informer<KubeObject>(
        listWatchOf(conn.client.resource(configmaps).namespace(ns), selection),
        {
          streamingList,
          backoff: { initialMs: 100, maxMs: 500 },
        },
      );
      const logs = [new HandlerLog("first"), new HandlerLog("second"), HandlerLog.slow("slow", 20)];
      for (const log of logs) informer.addHandlers(log.handlers());
      const errors: ApiError[] = [];
      informer.onError((err) => errors.push(err));
      informer.start();
      cleanup.defer(() => informer.stop());
      await informer.synced(AbortSignal.timeout(20_000));
      await cms.patch(`${p}-19`, { data: { v: "live" } }, "merge");
      await waitFor(
        "a live update",
        () => (informer.store.get(`${ns}/${p}-19`)?.data as { v?: string } | undefined)?.v === "live",
      );
      // Every handler holds every object before the cut: a slow one's relist deletes are then all told, not cancelled.
      await informer.idle();
      const rvBefore = informer.status().resourceVersion;

      proxy.mode = "reset";
      proxy.cut();
      await waitFor("the informer to notice the cut", () => errors.length > 0);

      const deleted = Array.from({ length: 8 }, (_, i) => `${p}-${i}`);
      for (const name of deleted) await cms.delete(name);
      for (let i = 8; i < 13; i++) await cms.patch(`${p}-${i}`, { data: { v: "changed" } }, "merge");
      for (let i = 0; i < 5; i++) await make(`${p}-new-${i}`);
      await cms.delete(`${p}-15`);
      await make(`${p}-15`); // same name, new uid
      const revision = await env.cluster.compact();
      assert.ok(revision > Number(rvBefore), "compacted past the informer's resourceVersion");

      const relists = informer.status().relists;
      proxy.mode = "forward";
      await waitFor("the informer to relist", () => informer.status().relists > relists, { timeoutMs: 20_000 });
      const result = await assertConverged(informer, cms, logs, selection);
      assert.equal(result.objects, 20 - 8 + 5);

      assert.ok(
        errors.some((e) => e.kind === "Gone"),
        `a Gone error was reported (got ${errors.map((e) => e.kind).join(", ")})`,
      );
      for (const log of logs) {
        for (const name of [...deleted, `${p}-15`])
          assert.ok(log.unknownDeletes.has(`${ns}/${name}`), `${log.name} was told ${name} went, finalStateUnknown`);
        assert.equal(log.unknownDeletes.size, deleted.length + 1, "no other delete was inferred");
      }
      console.log(
        `compaction (streaming ${streamingList}): compacted at ${revision} past ${rvBefore}; errors ` +
          `${errors.map((e) => e.kind).join(",")}; relists ${informer.status().relists}; ` +
          `unknown deletes ${logs.map((l) => l.unknownDeletes.size).join("/")}; proxy accepted ${proxy.accepted}`,
      );
    });
  }
});
