/**
 * HTTP/2 against an API server with a small `--http2-max-streams-per-connection` and a `--goaway-chance`: the transport
 * goes on through the GOAWAYs the server sends at random (the requests they refuse are sent again; the watches on a
 * connection going away keep delivering). Then informers and a watch-all engine through those GOAWAYs, on HTTP/2 and
 * on HTTP/1.1 (which the server never sends GOAWAY): no watch breaks, nothing is lost. (That a connection is opened
 * only at the server's stream limit is tested in integration/http-transport, on a server that sends no GOAWAY: here
 * one may come to any request, a watch's too, and send the next streams to a new connection.)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/index.js";
import { Transport } from "../../src/http/index.js";
import { configMapsGvr } from "../support/client.js";
import { cleanups, faultCluster, kubeconfigVia, protocols } from "../support/faults.js";
import { allHear, heard } from "../support/heard.js";
import { throughProxy } from "../support/http.js";
import { TcpProxy } from "../support/proxy.js";
import { sharedWatches } from "../support/shared-watches.js";
import { uniqueName, waitFor } from "../support/wait.js";

const maxStreams = 10;

describe("HTTP/2 streams per connection and GOAWAY", () => {
  const ns = uniqueName("h2streams");
  const configmaps = `/api/v1/namespaces/${ns}/configmaps`;
  let env: Awaited<ReturnType<typeof faultCluster>>;
  const cleanup = cleanups();

  before(async () => {
    env = await faultCluster({
      apiServerArgs: [`--http2-max-streams-per-connection=${maxStreams}`, "--goaway-chance=0.02"],
    });
    await env.admin.transport.request({ method: "POST", path: "/api/v1/namespaces", body: { metadata: { name: ns } } });
  });
  after(async () => {
    await cleanup.run();
    await env?.close();
  });

  const through = async () => {
    const proxy = await TcpProxy.start(env.cluster.server);
    const transport = new Transport(
      throughProxy(loadConfig({ kubeconfig: env.cluster.kubeconfigPath, env: {} }), proxy),
    );
    cleanup.defer(() => proxy.close());
    cleanup.defer(() => transport.close());
    return { proxy, transport };
  };

  it("goes on through the server's random GOAWAYs: every request answered, the watches keep delivering", async () => {
    const { proxy, transport } = await through();
    const list = (await transport.json({ path: configmaps })) as { metadata: { resourceVersion: string } };
    const watches = await Promise.all(
      Array.from({ length: 3 }, () =>
        transport.stream({ path: configmaps, query: { watch: 1, resourceVersion: list.metadata.resourceVersion } }),
      ),
    );
    const names = watches.map(heard);
    // At a 2% chance a request, 400 requests meet a GOAWAY with a probability of 1 - 0.98^400 > 99.97%.
    for (let i = 0; i < 400; i++) assert.equal((await transport.request({ path: configmaps })).status, 200);
    assert.ok(proxy.accepted > 1, "the server sent no GOAWAY: the test proves nothing");
    await env.admin.transport.request({ method: "POST", path: configmaps, body: { metadata: { name: "after" } } });
    await allHear(names, "after");
    for (const w of watches) w.close();
  });

  for (const protocol of protocols) {
    it(`keeps every informer's and the engine's watch through the GOAWAYs, losing nothing, on ${protocol.name}`, {
      timeout: 90_000,
    }, async () => {
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
      // Requests in parallel pairs, so that some race a GOAWAY: 400 at least (some 8 GOAWAYs expected), and on HTTP/2
      // until the GOAWAYs have made two new connections (a refused request may also find room on one there was).
      let requests = 0;
      while (requests < 400 || (protocol.http2 && proxy.accepted - accepted < 2 && requests < 4000)) {
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
        `goaway on ${protocol.name}: ${requests} requests, ${t.streams} watches, ${fresh} new connections, ${proxy.open} open`,
      );
    });
  }
});
