/**
 * kube-apiserver is killed twice while a churn creates, updates and deletes ConfigMaps. The second time, etcd is
 * changed behind its back while it is down (objects deleted and one created directly in etcd), which the informer can
 * only learn by relisting. At the end the store equals the server and every handler has seen every delete. Then a
 * graceful restart under many watches on one transport: the server says GOAWAY (HTTP/2) or closes (HTTP/1.1) every
 * connection, and every watch must move to a new one and lose nothing. Both tests run on HTTP/2 and on HTTP/1.1.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import { SharedInformerFactory } from "../../src/cache/factory.js";
import type { ApiError } from "../../src/http/errors.js";
import { Churn, names, randomOps } from "../support/churn.js";
import { clientFor, configMapsGvr as configmaps } from "../support/client.js";
import { assertConverged, HandlerLog } from "../support/convergence.js";
import { createNamespace, etcdDelete, etcdPut, faultSuite, kubeconfigVia, protocols } from "../support/faults.js";
import { TcpProxy } from "../support/proxy.js";
import { sharedWatches } from "../support/shared-watches.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("kube-apiserver killed during a churn", () => {
  const suite = faultSuite("restart");
  const { cleanup } = suite;

  for (const protocol of protocols) {
    it(`converges after two kills and changes made while the server was down, on ${protocol.name}`, {
      timeout: 60_000,
    }, async () => {
      const { cluster, admin } = suite.env;
      // A namespace per run: the churn's record must be the truth of its namespace.
      const ns = uniqueName("restart");
      await createNamespace(admin.client, ns);
      const cms = admin.client.resource(configmaps).namespace(ns);
      // Objects the churn leaves alone, so that the test may delete some behind the API server's back.
      const bystanders = names("bystander", 6);
      for (const name of bystanders) await cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name } });

      const conn = clientFor(cluster.kubeconfigPath, { http2: protocol.http2 });
      cleanup.defer(() => conn.transport.close());
      // Two consumers of one shared informer, each with its own handlers.
      const factory = new SharedInformerFactory(conn.client, { backoff: { initialMs: 100, maxMs: 1000 } });
      cleanup.defer(() => factory.shutdown());
      const request = { gvr: configmaps, namespace: ns };
      const leases = [factory.acquire(request), factory.acquire(request)] as const;
      const informer = leases[0].informer;
      assert.equal(leases[1].informer, informer, "one informer shared by both consumers");
      // The slow handler (some 20 notifications a second) falls behind the churn, so that its queue merges what it has
      // not been told yet: several changes of one object, an update then a delete.
      const logs = [new HandlerLog("first"), new HandlerLog("second"), HandlerLog.slow("slow", 100)] as const;
      leases[0].informer.addHandlers(logs[0].handlers());
      leases[1].informer.addHandlers(logs[1].handlers());
      leases[1].informer.addHandlers(logs[2].handlers());
      const errors: ApiError[] = [];
      informer.onError((err) => errors.push(err));
      await factory.waitForSync(AbortSignal.timeout(20_000));

      const churn = new Churn({ resource: cms, names: names("cm", 120), concurrency: 8, next: randomOps });
      const progress = async (ops: number) => {
        const mark = churn.total;
        await waitFor(`${ops} more churn operations`, () => churn.total >= mark + ops, { timeoutMs: 40_000 });
      };
      try {
        await progress(150);
        await cluster.restartApiServer("SIGKILL");
        await progress(150);

        await cluster.stopApiServer("SIGKILL");
        for (const name of bystanders.slice(0, 3))
          assert.equal(await etcdDelete(cluster, `/registry/configmaps/${ns}/${name}`), 1);
        await etcdPut(cluster, `/registry/configmaps/${ns}/made-in-etcd`, {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: {
            name: "made-in-etcd",
            namespace: ns,
            uid: randomUUID(),
            creationTimestamp: new Date().toISOString(),
          },
          data: { from: "etcd" },
        });
        await cluster.startApiServer();
        await progress(150);
      } finally {
        await churn.stop();
      }

      const server = new Set((await cms.list()).items.map((o) => o.metadata.name));
      assert.deepEqual(
        [...server].filter((n) => n?.startsWith("cm-")).sort(),
        [...churn.exists].sort(),
        "the churn's record is the truth",
      );
      assert.ok(server.has("made-in-etcd"), "the API server serves the object written to etcd");

      const result = await assertConverged(informer, cms, logs);
      for (const log of logs)
        for (const name of bystanders.slice(0, 3))
          assert.ok(log.unknownDeletes.has(`${ns}/${name}`), `${log.name} was told ${name} went while unseen`);
      assert.ok(logs[2].told < logs[0].told, `the slow handler had notifications merged (${logs[2].told} told)`);
      const status = informer.status();
      // A watch cut off by a kill is a broken connection, on either wire, not a watch the server ended.
      const network = errors.filter((e) => e.kind === "Network").length;
      assert.ok(network >= 2, `both kills reported as Network errors (got ${network} of ${errors.length} errors)`);
      assert.ok(status.relists >= 1, "the informer relisted after etcd changed behind its back");
      console.log(
        `restart on ${protocol.name}: ${churn.total} ops (${JSON.stringify(churn.counts)}), ${errors.length} errors ` +
          `(${[...new Set(errors.map((e) => e.kind))].join(",")}), ${status.relists} relists, ` +
          `${result.objects} objects, deletes seen ${JSON.stringify(result.deletedSeen)}, ` +
          `notifications told ${logs.map((l) => `${l.name} ${l.told}`).join(", ")}`,
      );
      for (const lease of leases) await lease.release();
      assert.equal(factory.informers().length, 0, "the informer stops with its last consumer");
    });

    it(`a graceful restart (GOAWAY on HTTP/2) moves every watch to a new connection, losing nothing, on ${protocol.name}`, {
      timeout: 90_000,
    }, async () => {
      const { env } = suite;
      const proxy = await TcpProxy.start(env.cluster.server);
      cleanup.defer(() => proxy.close());
      const t = await sharedWatches({
        env,
        kubeconfig: await kubeconfigVia(env.cluster, proxy.url),
        cleanup,
        transport: { http2: protocol.http2 },
      });
      if (protocol.http2) assert.equal(proxy.accepted, 1, `${t.streams} watches and every request on one connection`);
      await t.changes("before", 1, 2);
      await waitFor("the changes before the restart", () => t.seen("before"));
      const before = proxy.accepted;
      // SIGTERM: kube-apiserver shuts down as it does in a rolling update, telling its HTTP/2 clients GOAWAY.
      await env.cluster.restartApiServer("SIGTERM");
      await t.changes("after", 3, 0);
      await waitFor("every watch to see the changes made after the restart", () => t.seen("after"), {
        timeoutMs: 30_000,
      });
      await t.assertConverged();
      for (const { log } of t.informers)
        assert.deepEqual(log.deleted, [`${t.ns}/o-2`, `${t.ns}/o-0`], `${log.name} was told the deletes`);
      assert.ok(proxy.accepted > before, "new connections after the restart");
      if (protocol.http2)
        await waitFor("every watch on one new connection, the old one closed", () => proxy.open === 1, {
          timeoutMs: 5000,
        });
      console.log(
        `GOAWAY on ${protocol.name}: ${t.streams} watches moved; ${t.errors.length} errors (${[...new Set(t.errors.map((e) => e.kind))].join(",")}), proxy accepted ${proxy.accepted}, open ${proxy.open}`,
      );
    });
  }
});
