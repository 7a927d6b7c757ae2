/**
 * HTTP/2 against an API server with a small `--http2-max-streams-per-connection` and a `--goaway-chance`: the transport
 * opens another connection only when the server's SETTINGS_MAX_CONCURRENT_STREAMS is reached, reuses the places that
 * closed streams free, and goes on through the GOAWAYs the server sends at random (the requests they refuse are sent
 * again; the watches on a connection going away keep delivering).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/index.js";
import { type StreamResponse, Transport } from "../../src/http/index.js";
import { JsonLineSplitter } from "../../src/http/ndjson.js";
import { cleanups, faultCluster } from "../support/faults.js";
import { throughProxy } from "../support/http.js";
import { TcpProxy } from "../support/proxy.js";
import { uniqueName, waitFor } from "../support/wait.js";

const maxStreams = 10;

interface Event {
  readonly type: string;
  readonly object: { metadata: { name: string } };
}

/** The names `watch` tells of, as they arrive. */
function heard(watch: StreamResponse): string[] {
  const names: string[] = [];
  const splitter = new JsonLineSplitter();
  const ended = () => names.push("(ended)");
  watch.subscribe({
    data: (chunk) => {
      const lines: unknown[] = [];
      splitter.push(chunk, lines);
      for (const line of lines) names.push((line as Event).object.metadata.name);
    },
    end: ended,
    error: ended,
  });
  return names;
}

/** Waits until every watch told of `name`. */
async function allHear(watches: readonly string[][], name: string): Promise<void> {
  await waitFor(`every watch to tell of ${name}`, () => watches.every((names) => names.includes(name)));
}

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

  it("opens another connection only when the server's stream limit is reached, and reuses freed places", async () => {
    const { proxy, transport } = await through();
    const list = (await transport.json({ path: configmaps })) as { metadata: { resourceVersion: string } };
    const watch = () =>
      transport.stream({ path: configmaps, query: { watch: 1, resourceVersion: list.metadata.resourceVersion } });
    const first = await Promise.all(Array.from({ length: 25 }, watch));
    const firstNames = first.map(heard);
    assert.equal(transport.protocol, "h2");
    assert.equal(proxy.accepted, 3, `25 watches at ${maxStreams} streams a connection took ${proxy.accepted}`);
    await env.admin.transport.request({ method: "POST", path: configmaps, body: { metadata: { name: "first" } } });
    await allHear(firstNames, "first");
    // Ten watches end: their places take ten new ones without a new connection.
    for (const w of first.splice(0, 10)) w.close();
    firstNames.splice(0, 10);
    const second = await Promise.all(Array.from({ length: 10 }, watch));
    assert.equal(proxy.accepted, 3);
    await env.admin.transport.request({ method: "POST", path: configmaps, body: { metadata: { name: "second" } } });
    await allHear([...firstNames, ...second.map(heard)], "second");
    for (const w of [...first, ...second]) w.close();
  });

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
});
