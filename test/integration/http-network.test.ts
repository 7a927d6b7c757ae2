/**
 * Failures without a response, made real by a loopback proxy in front of the API server (or by no server at all):
 * refused and reset connections, a server that never answers, a broken TLS name, aborts mid-request and mid-stream.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ClusterConfig } from "../../src/config/index.js";
import {
  isAborted,
  isNetworkError,
  isNotFound,
  isTimeout,
  jsonLines,
  type RetryEvent,
  Transport,
  type TransportOptions,
} from "../../src/http/index.js";
import { freePort } from "../../src/testing/cluster.js";
import { attachCluster } from "../../src/testing/index.js";
import { failure } from "../support/failure.js";
import { adminConfig, createNamespace, deletePath, throughProxy } from "../support/http.js";
import { TcpProxy } from "../support/proxy.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("transport network failures", () => {
  let config: ClusterConfig;
  let server: string;
  let admin: Transport;
  const proxies: TcpProxy[] = [];
  const transports: Transport[] = [];
  const namespace = uniqueName("http-network");
  const configmaps = `/api/v1/namespaces/${namespace}/configmaps`;

  /** A proxy in front of the cluster, closed after the tests. */
  async function proxy(): Promise<TcpProxy> {
    const p = await TcpProxy.start(server);
    proxies.push(p);
    return p;
  }

  /** A transport to `target`, recording its retries, closed after the tests. */
  function transport(target: ClusterConfig, options: TransportOptions = {}): [Transport, RetryEvent[]] {
    const retries: RetryEvent[] = [];
    const t = new Transport(target, { ...options, onRetry: (e) => retries.push(e) });
    transports.push(t);
    return [t, retries];
  }

  before(async () => {
    const cluster = await attachCluster();
    server = cluster.server;
    config = adminConfig(cluster);
    admin = new Transport(config);
    await createNamespace(admin, namespace);
  });

  after(async () => {
    for (const t of transports) await t.close();
    for (const p of proxies) await p.close();
    await deletePath(admin, `/api/v1/namespaces/${namespace}`);
    await admin.close();
  });

  it("Network: a refused connection, retried with backoff for a read, not at all for a write", async () => {
    const closed = `https://127.0.0.1:${await freePort()}`;
    const [t, retries] = transport({ ...config, server: closed }, { maxRetries: 2 });
    const read = await failure(t.request({ path: "/api" }));
    assert.ok(isNetworkError(read));
    assert.equal(read.status, 0);
    assert.ok(read.transient);
    assert.match(read.message, /^GET \/api: no response from https:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED.*\)/);
    assert.match(read.message, /\(after 3 attempts\)$/);
    assert.deepEqual(
      retries.map((e) => [e.attempt, e.error.kind]),
      [
        [1, "Network"],
        [2, "Network"],
      ],
    );
    assert.ok(retries[0] && retries[0].delayMs >= 100 && retries[0].delayMs <= 200, "first backoff 100-200 ms");
    assert.ok(retries[1] && retries[1].delayMs >= 200 && retries[1].delayMs <= 400, "then 200-400 ms");

    retries.length = 0;
    const write = await failure(t.request({ method: "POST", path: configmaps, body: { metadata: { name: "x" } } }));
    assert.ok(isNetworkError(write));
    assert.equal(retries.length, 0, "a write is never sent twice");
  });

  it("reads are retried after a reset connection; writes are not", async () => {
    const p = await proxy();
    const [reader, readerRetries] = transport(throughProxy(config, p));
    p.resetNext();
    const res = await reader.request({ path: configmaps });
    assert.equal(res.status, 200);
    assert.equal(p.accepted, 2, "the first connection was reset, the second went through");
    assert.equal(readerRetries.length, 1);
    assert.equal(readerRetries[0]?.error.kind, "Network");
    assert.match(readerRetries[0]?.error.message ?? "", /ECONNRESET|socket/i);

    const q = await proxy();
    const [writer, writerRetries] = transport(throughProxy(config, q));
    q.resetNext();
    const err = await failure(
      writer.request({ method: "POST", path: configmaps, body: { metadata: { name: "never-sent" } } }),
    );
    assert.ok(isNetworkError(err));
    assert.equal(q.accepted, 1, "no second connection: the write was not retried");
    assert.equal(writerRetries.length, 0);
    assert.ok(isNotFound(await failure(admin.request({ path: `${configmaps}/never-sent` }))));
  });

  it("Network, not retried: a server certificate that does not match the expected name", async () => {
    const [t, retries] = transport({ ...config, tls: { ...config.tls, serverName: "wrong.kindwatch.invalid" } });
    const err = await failure(t.request({ path: "/api" }));
    assert.ok(isNetworkError(err));
    assert.ok(!err.transient, "a retry cannot fix a certificate");
    assert.match(err.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
    assert.match(err.message, /check the cluster's certificate-authority and tls-server-name/);
    assert.equal(retries.length, 0);
  });

  it("Timeout: a server that accepts the connection and never answers", async () => {
    const p = await proxy();
    p.mode = "stall";
    const [t, retries] = transport(throughProxy(config, p));
    const err = await failure(t.request({ path: "/api", timeoutMs: 300 }));
    assert.ok(isTimeout(err));
    assert.equal(err.status, 0);
    assert.equal(
      err.message,
      "GET /api did not complete within 300 ms: raise timeoutMs if the server is slow, or check that it is reachable",
    );
    assert.ok(p.accepted >= 1);
    assert.equal(retries.length, 0);
  });

  it("Timeout: a body that never ends (a watch read as a plain request); over HTTP/1.1 its connection is dropped", async () => {
    const p = await proxy();
    const [t] = transport(throughProxy(config, p), { http2: false });
    const err = await failure(t.request({ path: configmaps, query: { watch: 1 }, timeoutMs: 500 }));
    assert.ok(isTimeout(err));
    assert.match(err.message, new RegExp(`^GET ${configmaps} did not complete within 500 ms`));
    assert.ok(p.bytesFromServer > 0, "the server had answered; the body was still coming");
    // (undici then opens a spare connection in its place, idle until the next request.)
    await waitFor("the timed-out connection to be closed", () => p.closed === 1);
  });

  it("Timeout: a body that never ends; over HTTP/2 only its stream is reset, and the connection serves on", async () => {
    const p = await proxy();
    const [t] = transport(throughProxy(config, p));
    const err = await failure(t.request({ path: configmaps, query: { watch: 1 }, timeoutMs: 500 }));
    assert.ok(isTimeout(err));
    assert.equal(t.protocol, "h2");
    assert.match(err.message, new RegExp(`^GET ${configmaps} did not complete within 500 ms`));
    assert.ok(p.bytesFromServer > 0, "the server had answered; the body was still coming");
    const res = await t.request({ path: configmaps });
    assert.equal(res.status, 200);
    assert.equal(p.accepted, 1, "the next request went over the same connection");
    assert.equal(p.closed, 0);
  });

  it("Aborted: the caller's signal fires while the request waits for a connection", async () => {
    const p = await proxy();
    p.mode = "stall";
    const [t] = transport(throughProxy(config, p));
    const controller = new AbortController();
    const pending = failure(t.request({ path: "/api", signal: controller.signal }));
    await waitFor("the request to reach the proxy", () => p.accepted >= 1);
    controller.abort(new Error("the user gave up"));
    const err = await pending;
    assert.ok(isAborted(err));
    assert.equal(err.message, "GET /api was aborted by its AbortSignal");
    assert.equal((err.cause as Error).message, "the user gave up");
  });

  it("Aborted: the caller's signal fires in the middle of a watch stream", async () => {
    await admin.request({ method: "POST", path: configmaps, body: { metadata: { name: "watched" } } });
    const controller = new AbortController();
    const [t] = transport(config);
    const stream = await t.stream({
      path: configmaps,
      query: { watch: 1, resourceVersion: "0" },
      signal: controller.signal,
    });
    const events = jsonLines(stream.body);
    const first = (await events.next()).value as { type: string; object: { metadata: { name: string } } };
    assert.equal(first.type, "ADDED");
    assert.equal(first.object.metadata.name, "watched");
    controller.abort();
    const err = await failure(events.next());
    assert.ok(isAborted(err));
    assert.equal(err.request, `GET ${configmaps}`);
  });

  it("Network: the connection is cut in the middle of a watch stream", async () => {
    await admin.request({ method: "POST", path: configmaps, body: { metadata: { name: "cut" } } });
    const p = await proxy();
    const [t] = transport(throughProxy(config, p));
    const stream = await t.stream({
      path: configmaps,
      query: { watch: 1, resourceVersion: "0", fieldSelector: "metadata.name=cut" },
    });
    const events = jsonLines(stream.body);
    assert.equal(((await events.next()).value as { type: string }).type, "ADDED");
    p.cut();
    const err = await failure(events.next());
    assert.ok(isNetworkError(err), `${err.kind}: ${err.message}`);
    assert.ok(err.transient, "a watcher should reconnect");
  });

  it("Aborted: closing the transport ends its calls in flight and refuses new ones", async () => {
    const p = await proxy();
    p.mode = "stall";
    const t = new Transport(throughProxy(config, p));
    const pending = failure(t.request({ path: "/api" }));
    await waitFor("the request to reach the proxy", () => p.accepted >= 1);
    await t.close();
    const err = await pending;
    assert.ok(isAborted(err));
    assert.match(err.message, /^GET \/api: the transport is closed/);
    assert.ok(isAborted(await failure(t.request({ path: "/api" }))));
  });
});
