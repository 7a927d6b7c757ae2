/**
 * The informer's TCP connection cut in the middle of a watch by a proxy the test controls: (a) reset, with new
 * connections refused for a while; (b) half-open, the proxy silently ceasing to forward, which no socket error ever
 * reports: only the watcher's idle timeout (or on HTTP/2, a PING) can notice. Changes made meanwhile must arrive either
 * way. Then the same faults under many watches at once, informers of three kinds and a watch-all engine on one
 * transport (on HTTP/2, one connection): (c) the connection reset, (d) the connection half-open with only PING to
 * notice; every watch must recover and lose nothing. Every test runs on HTTP/2 and on HTTP/1.1.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { ApiError } from "../../src/http/errors.js";
import type { KubeObject } from "../../src/object/types.js";
import { clientFor, configMapsGvr as configmaps } from "../support/client.js";
import { assertConverged, HandlerLog } from "../support/convergence.js";
import {
  cleanups,
  counting,
  createNamespace,
  faultCluster,
  kubeconfigVia,
  type Protocol,
  protocols,
} from "../support/faults.js";
import { TcpProxy } from "../support/proxy.js";
import { sharedWatches } from "../support/shared-watches.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("the watch connection cut mid-stream", () => {
  let env: Awaited<ReturnType<typeof faultCluster>>;
  let proxy: TcpProxy;
  const cleanup = cleanups();
  afterEach(async () => {
    await cleanup.run();
    proxy.mode = "forward";
  });

  before(async () => {
    env = await faultCluster();
    proxy = await TcpProxy.start(env.cluster.server);
  });
  after(async () => {
    await proxy?.close();
    await env?.close();
  });

  /**
   * PINGs so prompt that a half-open HTTP/2 connection is found dead within a second or so, before any watch's idle
   * timeout (HTTP/1.1 has no PING: there, only the idle timeout can notice).
   */
  const pings = { pingIntervalMs: 500, pingTimeoutMs: 1000 };

  /** An informer through the proxy on a fresh namespace holding `count` ConfigMaps, synced. */
  async function setup(protocol: Protocol, count: number, idleTimeoutMs?: number) {
    const ns = uniqueName("cut");
    await createNamespace(env.admin.client, ns);
    const cms = env.admin.client.resource(configmaps).namespace(ns);
    for (let i = 0; i < count; i++)
      await cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}` }, data: { v: "0" } });
    const conn = clientFor(await kubeconfigVia(env.cluster, proxy.url), { http2: protocol.http2, ...pings });
    cleanup.defer(() => conn.transport.close());
    const { source, calls } = counting(listWatchOf(conn.client.resource(configmaps).namespace(ns)));
    const informer = new Informer<KubeObject>(source, {
      backoff: { initialMs: 100, maxMs: 500 },
      ...(idleTimeoutMs ? { idleTimeoutMs } : {}),
    });
    const logs = [new HandlerLog("first"), new HandlerLog("second"), HandlerLog.slow("slow", 20)];
    for (const log of logs) informer.addHandlers(log.handlers());
    const errors: ApiError[] = [];
    informer.onError((err) => errors.push(err));
    informer.start();
    cleanup.defer(() => informer.stop());
    await informer.synced(AbortSignal.timeout(20_000));
    /**
     * Each round changes objects of its own: patches `cm-<patched>`, patches then deletes `cm-<doomed>` (an update and
     * a delete of one key in a row, which reach a slow handler's queue together), and creates `cm-<round>` last.
     */
    const changes = async (round: string, patched: number, doomed: number) => {
      await cms.patch(`cm-${patched}`, { data: { v: round } }, "merge");
      await cms.patch(`cm-${doomed}`, { data: { v: round } }, "merge");
      await cms.delete(`cm-${doomed}`);
      await cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${round}` } });
    };
    /**
     * Asserts that every handler was told of exactly the deletes of `doomed`, in order, and holds none of them; and
     * that the slow one, handed each round's changes at once after the outage, had some merged on the way.
     */
    const toldDeletes = (...doomed: number[]) => {
      for (const log of logs) {
        assert.deepEqual(
          log.deleted,
          doomed.map((i) => `${ns}/cm-${i}`),
          `${log.name} was told every delete`,
        );
        for (const i of doomed) assert.equal(log.view.has(`${ns}/cm-${i}`), false, `${log.name} holds cm-${i} no more`);
      }
      const [first, , slow] = logs;
      assert.ok(slow && first && slow.told < first.told, `the slow handler had notifications merged (${slow?.told})`);
    };
    return { ns, cms, informer, logs, errors, calls, changes, toldDeletes };
  }

  for (const protocol of protocols) {
    describe(`on ${protocol.name}`, () => {
      it("(a) reset: reconnects, re-watches from its version, and loses nothing", { timeout: 60_000 }, async () => {
        const t = await setup(protocol, 10);
        const relists = t.informer.status().relists;
        // A plain reset: the stream breaks and the next connection goes through.
        proxy.cut();
        await t.changes("a1", 1, 2);
        await waitFor("the changes after a reset", () => t.informer.store.get(`${t.ns}/cm-a1`), { timeoutMs: 10_000 });
        // A reset, then every new connection refused for a while: errors, backoff, then back.
        proxy.mode = "reset";
        proxy.cut();
        await waitFor("errors while refused", () => t.errors.length >= 3, { timeoutMs: 20_000 });
        await t.changes("a2", 3, 4);
        proxy.mode = "forward";
        await waitFor("the changes after the refusals", () => t.informer.store.get(`${t.ns}/cm-a2`), {
          timeoutMs: 20_000,
        });
        await assertConverged(t.informer, t.cms, t.logs);
        t.toldDeletes(2, 4);
        assert.deepEqual([...new Set(t.errors.map((e) => e.kind))], ["Network"]);
        assert.equal(t.informer.status().relists, relists, "a re-watch from the last version sufficed: no relist");
        for (const log of t.logs) assert.equal(log.unknownDeletes.size, 0, "deletes came from the watch itself");
        console.log(
          `cut (a) on ${protocol.name}: ${t.errors.length} Network errors, proxy accepted ${proxy.accepted} connections`,
        );
      });

      it("(b) half-open: the idle timeout notices the stall and the changes made meanwhile arrive", {
        timeout: 60_000,
      }, async () => {
        const idleTimeoutMs = 2000;
        const t = await setup(protocol, 10, idleTimeoutMs);
        await waitFor("the watch connection to be open", () => proxy.open > 0);
        const watches = t.calls.watchTimes.length;
        const stalledAt = Date.now();
        // Open connections stop relaying; new ones are accepted but never answered.
        proxy.freeze();
        proxy.mode = "stall";
        await t.changes("b", 5, 6);
        const attempt = (n: number) => t.calls.watchTimes[watches + n - 1];
        await waitFor(
          "the watcher to give up on the stalled stream, then on a stalled new connection",
          () => attempt(2) !== undefined,
          {
            timeoutMs: 2 * idleTimeoutMs + 5000,
          },
        );
        assert.equal(t.informer.store.get(`${t.ns}/cm-b`), undefined, "nothing can arrive while stalled");
        proxy.mode = "forward";
        await waitFor("the changes made during the stall", () => t.informer.store.get(`${t.ns}/cm-b`), {
          timeoutMs: idleTimeoutMs + 5000,
        });
        const arrivedMs = Date.now() - stalledAt;
        await assertConverged(t.informer, t.cms, t.logs);
        t.toldDeletes(6);
        const noticedMs = (attempt(1) ?? 0) - stalledAt;
        const newStallMs = (attempt(2) ?? 0) - (attempt(1) ?? 0);
        // The frozen stream's clock started at its last event, before the freeze; a new connection's at its start.
        assert.ok(
          noticedMs <= idleTimeoutMs + 1000,
          `the frozen watch was given up within the idle timeout (${noticedMs} ms)`,
        );
        assert.ok(
          newStallMs >= idleTimeoutMs - 100 && newStallMs <= idleTimeoutMs + 1000,
          `a stalled new connection was given up after the idle timeout (${newStallMs} ms)`,
        );
        assert.ok(
          t.errors.every((e) => e.kind !== "Timeout"),
          "an idle watch is reopened quietly, not reported",
        );
        console.log(
          `cut (b) on ${protocol.name}: stall noticed after ${noticedMs} ms, stalled reconnect dropped after ${newStallMs} ms, changes arrived after ${arrivedMs} ms, ` +
            `${t.errors.length} errors reported (${t.errors.map((e) => e.kind).join(",")}), proxy accepted ${proxy.accepted}`,
        );
      });

      it("(c) a reset of the connection every watch shares: each one recovers on a fresh connection, losing nothing", {
        timeout: 90_000,
      }, async () => {
        await waitFor("the connections of earlier tests to close", () => proxy.open === 0);
        const accepted = proxy.accepted;
        const kubeconfig = await kubeconfigVia(env.cluster, proxy.url);
        const t = await sharedWatches({ env, kubeconfig, cleanup, transport: { http2: protocol.http2 } });
        const streams = t.streams;
        if (protocol.http2) {
          assert.equal(proxy.accepted - accepted, 1, `${streams} watches and every request on one connection`);
          assert.equal(proxy.open, 1);
        } else {
          await waitFor(`a connection for each of the ${streams} watches`, () => proxy.open >= streams);
        }
        const relists = t.informers.map(({ informer }) => informer.status().relists);
        // The connection reset, and every new one too for a while: the changes are made while no watch can be open.
        proxy.mode = "reset";
        proxy.cut();
        await waitFor("every informer to report the cut", () => t.informers.every(({ errors }) => errors.length > 0));
        await t.changes("c", 1, 2);
        proxy.mode = "forward";
        await waitFor("every watch to see the changes made during the cut", () => t.seen("c"), { timeoutMs: 30_000 });
        await t.assertConverged();
        for (const { log } of t.informers)
          assert.deepEqual(log.deleted, [`${t.ns}/o-2`], `${log.name} was told the delete`);
        assert.deepEqual(
          t.informers.map(({ informer }) => informer.status().relists),
          relists,
          "a re-watch from the last version sufficed: no relist",
        );
        if (protocol.http2)
          await waitFor("every watch back on one fresh connection", () => proxy.open === 1, { timeoutMs: 5000 });
        console.log(
          `cut (c) on ${protocol.name}: ${streams} watches, ${t.errors.length} errors ` +
            `(${[...new Set(t.errors.map((e) => e.kind))].join(",")}), proxy accepted ${proxy.accepted - accepted}, open ${proxy.open}`,
        );
      });

      it("(d) the connection every watch shares goes half-open: found dead (by PING on HTTP/2), each watch recovers", {
        timeout: 90_000,
      }, async () => {
        await waitFor("the connections of earlier tests to close", () => proxy.open === 0);
        const accepted = proxy.accepted;
        const kubeconfig = await kubeconfigVia(env.cluster, proxy.url);
        // HTTP/1.1 can only notice by the idle timeout; on HTTP/2 it is left at its default (90 s), so that only a PING
        // can find the connection dead within this test's deadlines.
        const t = await sharedWatches({
          env,
          kubeconfig,
          cleanup,
          transport: { http2: protocol.http2, ...pings },
          ...(protocol.http2 ? {} : { idleTimeoutMs: 3000 }),
        });
        const streams = t.streams;
        if (protocol.http2)
          assert.equal(proxy.accepted - accepted, 1, `${streams} watches and every request on one connection`);
        const frozenAt = Date.now();
        proxy.freeze();
        await t.changes("d", 1, 2);
        await waitFor("every watch to see the changes made on the frozen connection", () => t.seen("d"), {
          timeoutMs: 15_000,
        });
        const recoveredMs = Date.now() - frozenAt;
        await t.assertConverged();
        for (const { log } of t.informers)
          assert.deepEqual(log.deleted, [`${t.ns}/o-2`], `${log.name} was told the delete`);
        if (protocol.http2) {
          await waitFor("the dead connection closed, every watch on one fresh connection", () => proxy.open === 1, {
            timeoutMs: 5000,
          });
          assert.equal(proxy.accepted - accepted, 2, "one connection before, one after");
        }
        console.log(
          `cut (d) on ${protocol.name}: ${streams} watches recovered ${recoveredMs} ms after the freeze, ${t.errors.length} errors ` +
            `(${[...new Set(t.errors.map((e) => e.kind))].join(",")}), proxy accepted ${proxy.accepted - accepted}, open ${proxy.open}`,
        );
      });
    });
  }
});
