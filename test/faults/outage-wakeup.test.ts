/**
 * Recovering as fast as the server does: an informer whose backoff would keep it away for minutes after kube-apiserver
 * went down sees a change made after the server came back within seconds, because its transport's probe notices the
 * return and wakes it, and because the `410 Gone` a restarted server first answers with (its watch cache starts empty;
 * here etcd is compacted too) relists at once instead of waiting out the backoff of the outage.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { ApiError } from "../../src/http/errors.js";
import { clientFor, configMap, configMapsGvr as configmaps } from "../support/client.js";
import { etcdPut, faultSuite, protocols } from "../support/faults.js";
import { uniqueName, waitFor } from "../support/wait.js";

/** So long that a retry on the backoff's schedule comes minutes after the server is back: only a wake-up is prompt. */
const backoff = { initialMs: 240_000, maxMs: 240_000 };

describe("waking from the backoff when kube-apiserver comes back", () => {
  const suite = faultSuite("wakeup");
  const { ns, cleanup } = suite;

  for (const protocol of protocols)
    for (const compaction of [false, true]) {
      const what = compaction ? "a restart over a compacted etcd" : "a restart";
      it(`sees a change made after ${what} long before its backoff would retry, on ${protocol.name}`, {
        timeout: 120_000,
      }, async () => {
        const { cluster, admin } = suite.env;
        const conn = clientFor(cluster.kubeconfigPath, { http2: protocol.http2 });
        cleanup.defer(() => conn.transport.close());
        const informer = new Informer(listWatchOf(conn.client.resource(configmaps).namespace(ns)), { backoff });
        const errors: { error: ApiError; retryInMs: number }[] = [];
        informer.onError((error, retryInMs) => errors.push({ error, retryInMs }));
        const seen = new Map<string, number>();
        informer.addHandlers({
          add: (o) => {
            seen.set(o.metadata.name ?? "", performance.now());
          },
        });
        const controller = new AbortController();
        cleanup.defer(async () => {
          controller.abort();
          await informer.stop();
        });
        informer.start(controller.signal);
        await informer.synced(AbortSignal.timeout(20_000));

        await cluster.stopApiServer("SIGKILL");
        await waitFor("the informer to report the outage", () => errors.length > 0, { timeoutMs: 30_000 });
        const outage = errors[0];
        assert.equal(outage?.error.kind, "Network", outage?.error.message);
        assert.ok((outage?.retryInMs ?? 0) >= 120_000, `the next retry is ${outage?.retryInMs} ms away`);
        // etcd moves on past everything the informer saw: the restarted server's watch cache, which starts at etcd's
        // revision, cannot resume its watch; compacted, etcd cannot either.
        await etcdPut(cluster, `/kindwatch-test/${ns}`, { bump: true });
        if (compaction) await cluster.compact();
        await cluster.startApiServer();
        const ready = performance.now();
        const name = uniqueName("after");
        await admin.client.resource(configmaps).namespace(ns).create(configMap(name));

        // Far below the 120 s the backoff asked for, far above what the wake-up takes (a probe a second, then < 1 s).
        await waitFor(`the informer to see ${name}`, () => seen.has(name), { timeoutMs: 15_000 });
        const gone = errors.find((e) => e.error.kind === "Gone");
        assert.equal(gone?.retryInMs, 0, "the restarted server's Gone relisted at once");
        assert.ok(informer.status().relists >= 1);
        const recovery = conn.transport.recovery;
        assert.ok(recovery.probes >= 2, "the probe saw the server down, then back");
        await waitFor("the probe to stop", () => !recovery.probing && recovery.waiting === 0, { timeoutMs: 5000 });
        console.log(
          `${what} on ${protocol.name}: ${name} seen ${(((seen.get(name) ?? ready) - ready) / 1000).toFixed(2)} s after the server was ready; ` +
            `${recovery.probes} probes; errors ${errors.map((e) => `${e.error.kind}:${Math.round(e.retryInMs)}`).join(" ")}`,
        );
      });
    }
});
