/**
 * A server that sends GOAWAY now and then, as kube-apiserver does with `--goaway-chance` to spread HTTP/2 clients over
 * the API servers behind a load balancer: after the response of one request in fifty, it tells the connection to take
 * no new streams, while the streams it has (every watch on it) go on. Many watches share the connection; requests go
 * on meanwhile: each must succeed on a new connection, and no watch may break or lose anything. HTTP/1.1, which the
 * server never sends GOAWAY, must pass the same.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { configMapsGvr } from "../support/client.js";
import { faultSuite, kubeconfigVia, protocols } from "../support/faults.js";
import { TcpProxy } from "../support/proxy.js";
import { sharedWatches } from "../support/shared-watches.js";
import { waitFor } from "../support/wait.js";

/** The most kube-apiserver allows: a GOAWAY after one request in fifty. */
const goawayChance = 0.02;

describe("an API server that sends GOAWAY at random", () => {
  const suite = faultSuite("goaway", { apiServerArgs: [`--goaway-chance=${goawayChance}`] });
  const { cleanup } = suite;

  for (const protocol of protocols) {
    it(`keeps every watch and answers every request through the GOAWAYs, on ${protocol.name}`, {
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
      const cms = t.client.resource(configMapsGvr).namespace(t.ns);
      const accepted = proxy.accepted;
      // Enough requests that several GOAWAYs come (some 8 expected of 400), in parallel pairs, so that some race one.
      let requests = 0;
      for (let i = 0; i < 200; i++) {
        await Promise.all([cms.get("o-0"), cms.list({ limit: 1 })]);
        requests += 2;
      }
      await t.changes("after", 1, 2);
      await waitFor("every watch to see the changes made after the GOAWAYs", () => t.seen("after"), {
        timeoutMs: 30_000,
      });
      await t.assertConverged();
      const fresh = proxy.accepted - accepted;
      if (protocol.http2) assert.ok(fresh >= 2, `the GOAWAYs made new connections (${fresh})`);
      assert.deepEqual(
        t.errors.map((e) => e.message),
        [],
        "no watch broke: a GOAWAY lets the streams the server took run on",
      );
      for (const { log, informer } of t.informers) {
        assert.deepEqual(log.deleted, [`${t.ns}/o-2`], `${log.name} was told the delete`);
        assert.equal(informer.status().relists, 0, `${log.name} never relisted`);
      }
      console.log(
        `goaway on ${protocol.name}: ${requests} requests, ${t.streams} watches, ${fresh} new connections, ` +
          `${proxy.open} open`,
      );
    });
  }
});
