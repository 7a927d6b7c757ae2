/**
 * A wait whose watch is cut off while etcd is compacted past its resourceVersion. With the watch cache off, its
 * re-watch goes to etcd, which answers `410 Gone`: the wait must retry through the broken connection, read the object
 * again, and see the change it was waiting for. On HTTP/2 and on HTTP/1.1.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ListOptions,
  ResourceClient,
  type WatchEvent,
  type WatchOptions,
  waitForObject,
} from "../../src/client/index.js";
import type { KubeObject, List } from "../../src/object/types.js";
import { clientFor, configMap, configMapsGvr } from "../support/client.js";
import { createNamespace, faultCluster, kubeconfigVia, protocols } from "../support/faults.js";
import { TcpProxy } from "../support/proxy.js";
import { uniqueName, waitFor } from "../support/wait.js";

/** A client that counts its lists and watches. */
class Counting extends ResourceClient<KubeObject> {
  lists = 0;
  watches = 0;

  override list(opts?: ListOptions): Promise<List<KubeObject>> {
    this.lists++;
    return super.list(opts);
  }

  override watch(opts?: WatchOptions): AsyncGenerator<WatchEvent<KubeObject>> {
    this.watches++;
    return super.watch(opts);
  }
}

describe("waitForObject across a cut and a compaction (watch cache off)", () => {
  const ns = uniqueName("wait-compact");
  let env: Awaited<ReturnType<typeof faultCluster>>;
  let proxy: TcpProxy;

  before(async () => {
    env = await faultCluster({ watchCache: false });
    proxy = await TcpProxy.start(env.cluster.server);
    await createNamespace(env.admin.client, ns);
  });
  after(async () => {
    await proxy?.close();
    await env?.close();
  });

  for (const protocol of protocols)
    it(`re-watches after the cut, reads again after Gone, and returns the change, on ${protocol.name}`, {
      timeout: 60_000,
    }, async () => {
      const cms = env.admin.client.resource(configMapsGvr).namespace(ns);
      const target = uniqueName("target");
      await cms.create(configMap(target, { v: "0" }));
      const conn = clientFor(await kubeconfigVia(env.cluster, proxy.url), { http2: protocol.http2 });
      try {
        const client = new Counting(conn.transport, configMapsGvr, ns);
        const waiting = waitForObject(client, target, "jsonpath={.data.v}=done", { timeoutMs: 45_000 });
        await waitFor("the wait to watch", () => client.watches > 0 && proxy.open > 0);

        proxy.mode = "reset";
        proxy.cut();
        await waitFor("a re-watch to fail on the reset", () => client.watches > 1, { timeoutMs: 20_000 });
        await cms.patch(target, { data: { v: "1" } }, "merge");
        const done = await cms.patch(target, { data: { v: "done" } }, "merge");
        await cms.patch(target, { data: { other: "x" } }, "merge");
        const revision = await env.cluster.compact();
        assert.ok(revision > 0);
        proxy.mode = "forward";

        const met = await waiting;
        assert.equal(met?.data && (met.data as Record<string, string>).v, "done");
        assert.ok(
          Number(met?.metadata.resourceVersion) > Number(done.metadata.resourceVersion),
          "read again after Gone: the state at the relist, which the later patch is part of",
        );
        assert.equal(client.lists, 2, "one read at the start, one after Gone");
      } finally {
        await conn.transport.close();
      }
    });
});
