/**
 * The gateway's data plane routes by host, longest path prefix and method, and answers what it cannot route with
 * OpenAI-format errors: 404 (no route), 405 with `Allow` (wrong method), 413 (body over the cap).
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { errorOf, GatewayProcess, source } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";

describe("gateway: routing", () => {
  let gw: GatewayProcess;
  let a: OpenAIUpstream;
  let b: OpenAIUpstream;
  let c: OpenAIUpstream;

  before(async () => {
    [gw, a, b, c] = await Promise.all([
      GatewayProcess.start({ maxBodyBytes: 1000 }),
      OpenAIUpstream.start("a"),
      OpenAIUpstream.start("b"),
      OpenAIUpstream.start("c"),
    ]);
    await gw.put("routes", { name: "root", source: source(), match: { pathPrefix: "/" }, upstreams: [{ url: a.url }] });
    await gw.put("routes", {
      name: "api",
      source: source(),
      match: { pathPrefix: "/api", methods: ["GET", "POST"] },
      upstreams: [{ url: b.url }],
    });
    await gw.put("routes", {
      name: "api-v2",
      source: source(),
      match: { pathPrefix: "/api/v2" },
      upstreams: [{ url: c.url }],
    });
    await gw.put("routes", {
      name: "hosted",
      source: source(),
      match: { host: "models.example", pathPrefix: "/api" },
      upstreams: [{ url: c.url }],
    });
  });

  after(async () => {
    await Promise.all([gw?.stop(), a?.stop(), b?.stop(), c?.stop()]);
  });

  const upstreamOf = async (path: string, headers: Record<string, string> = {}) => {
    const answer = await gw.call(path, { headers });
    assert.equal(answer.status, 200, answer.text);
    return answer.json?.upstream;
  };

  it("sends a request to the route with the longest matching prefix, on path segment boundaries", {
    timeout: 20_000,
  }, async () => {
    assert.equal(await upstreamOf("/api/v2/things"), "c");
    assert.equal(await upstreamOf("/api/v1/things?x=1"), "b");
    assert.equal(await upstreamOf("/api"), "b");
    assert.equal(await upstreamOf("/apiary"), "a");
    assert.equal(await upstreamOf("/other"), "a");
    assert.equal(b.requests.at(-1)?.path, "/api");
    assert.equal(b.requests.at(-2)?.path, "/api/v1/things?x=1");
  });

  it("prefers a route for the request's host over one for any host", { timeout: 20_000 }, async () => {
    assert.equal(await upstreamOf("/api/x", { host: "models.example" }), "c");
    assert.equal(await upstreamOf("/api/x", { host: "models.example:8080" }), "c");
    assert.equal(await upstreamOf("/api/x", { host: "other.example" }), "b");
  });

  it("answers a method the route does not take with 405 and Allow", { timeout: 20_000 }, async () => {
    const answer = await gw.call("/api/x", { method: "DELETE" });
    assert.equal(answer.status, 405);
    assert.equal(answer.headers.allow, "GET, POST");
    assert.deepEqual(answer.json, {
      error: {
        message: "Route api takes GET, POST, not DELETE.",
        type: "invalid_request_error",
        param: null,
        code: "method_not_allowed",
      },
    });
    assert.equal(b.requests.filter((r) => r.method === "DELETE").length, 0);
  });

  it("answers a request no route matches with an OpenAI-format 404", { timeout: 20_000 }, async () => {
    await gw.admin("DELETE", "/admin/v1/routes/root");
    try {
      const answer = await gw.call("/nowhere");
      assert.equal(answer.status, 404);
      assert.equal(errorOf(answer).type, "not_found_error");
      assert.equal(errorOf(answer).code, "route_not_found");
    } finally {
      await gw.put("routes", {
        name: "root",
        source: source(),
        match: { pathPrefix: "/" },
        upstreams: [{ url: a.url }],
      });
    }
  });

  it("refuses a body over --max-body-bytes with 413, declared or streamed, and passes one at the cap", {
    timeout: 20_000,
  }, async () => {
    const before = b.requests.length;
    const declared = await gw.call("/api/upload", { method: "POST", body: "x".repeat(1001) });
    assert.equal(declared.status, 413);
    assert.equal(errorOf(declared).code, "body_too_large");
    const chunked = await gw.call("/api/upload", {
      method: "POST",
      body: Readable.from([Buffer.from("y".repeat(700)), Buffer.from("y".repeat(800))]),
    });
    assert.equal(chunked.status, 413);
    assert.equal(chunked.headers.connection, "close");
    assert.equal(b.requests.length, before);
    const fits = await gw.call("/api/upload", { method: "POST", body: "z".repeat(1000) });
    assert.equal(fits.status, 200);
    assert.equal(b.requests.at(-1)?.body, "z".repeat(1000));
  });

  it("takes a body sent after Expect: 100-continue", { timeout: 20_000 }, async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${gw.url}/api/upload`, {
        method: "POST",
        headers: { expect: "100-continue", "content-length": "5" },
      });
      req.on("continue", () => req.end("hello"));
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
    });
    assert.equal(status, 200);
    assert.equal(b.requests.at(-1)?.body, "hello");
  });

  it("answers /healthz and /readyz itself, whatever the routes", { timeout: 20_000 }, async () => {
    assert.equal((await gw.call("/healthz")).status, 200);
    assert.equal((await gw.call("/readyz")).status, 200);
    assert.equal(a.requests.filter((r) => r.path === "/healthz" || r.path === "/readyz").length, 0);
  });
});
