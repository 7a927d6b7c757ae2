/**
 * The gateway's `/metrics` and access log, from its own process: request counts by route, method and status code match
 * the requests made (200, 401, 404, 502), the breaker state metric follows a breaker from closed to open and back
 * (read at scrape time, so an open breaker's half-open turn shows with no request), and each request is one JSON line
 * on stdout with its route, status, key id and sizes, and never the key.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.js";
import { call, GatewayProcess, source } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { parsePrometheusText, type Scrape } from "../support/prometheus.js";
import { waitFor } from "../support/wait.js";

const sha = (key: string) => createHash("sha256").update(key).digest("hex");
const chat = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });
const key = "sk-observed-secret-key";
const otherKey = "sk-other-secret-key";

describe("gateway: metrics and access log", () => {
  let gw: GatewayProcess;
  let upstream: OpenAIUpstream;

  before(async () => {
    [gw, upstream] = await Promise.all([GatewayProcess.start(), OpenAIUpstream.start("observed")]);
    await gw.put("keysets", {
      name: "team",
      source: source("ks"),
      keys: [
        { id: "alice", sha256: sha(key) },
        { id: "bob", sha256: sha(otherKey), routes: ["elsewhere"] },
      ],
    });
  });

  after(async () => {
    await Promise.all([gw?.stop(), upstream?.stop()]);
  });

  const scrape = async (): Promise<Scrape> => {
    const answer = await gw.call("/metrics");
    assert.equal(answer.status, 200, answer.text);
    assert.match(String(answer.headers["content-type"]), /^text\/plain/);
    return parsePrometheusText(answer.text);
  };

  const post = (path: string, headers: Record<string, string> = {}) =>
    gw.call(path, { method: "POST", body: chat, headers: { "content-type": "application/json", ...headers } });

  /** The access log lines of stdout so far, parsed; a line that is not JSON fails the test. */
  const accessLog = () => gw.cli.events().filter((l) => l.msg === "request");

  it("counts every answer by route, method and code", { timeout: 30_000 }, async () => {
    await gw.put("routes", {
      name: "counted",
      source: source("counted"),
      match: { pathPrefix: "/counted" },
      upstreams: [{ url: upstream.url }],
      auth: { keySet: "team" },
    });
    await gw.put("routes", {
      name: "broken",
      source: source("broken"),
      match: { pathPrefix: "/broken" },
      // Port 1: nothing listens there, the connection is refused, the answer is a 502.
      upstreams: [{ url: "http://127.0.0.1:1" }],
    });
    const made = { ok: 3, unauthorized: 2, forbidden: 1, missing: 4, bad: 1 };
    for (let i = 0; i < made.ok; i++) {
      assert.equal((await post("/counted/v1/chat/completions", { authorization: `Bearer ${key}` })).status, 200);
    }
    for (let i = 0; i < made.unauthorized; i++) assert.equal((await post("/counted/v1/chat/completions")).status, 401);
    const forbidden = await post("/counted/v1/chat/completions", { authorization: `Bearer ${otherKey}` });
    assert.equal(forbidden.status, 403);
    for (let i = 0; i < made.missing; i++) assert.equal((await gw.call(`/nowhere/${i}`)).status, 404);
    assert.equal((await post("/broken/x")).status, 502);

    const s = await scrape();
    assert.equal(s.types.get("kindwatch_gateway_requests_total"), "counter");
    const count = (route: string, method: string, code: string) =>
      s.value("kindwatch_gateway_requests_total", { route, method, code });
    assert.equal(count("counted", "POST", "200"), made.ok);
    assert.equal(count("counted", "POST", "401"), made.unauthorized);
    assert.equal(count("counted", "POST", "403"), made.forbidden);
    assert.equal(count("", "GET", "404"), made.missing);
    assert.equal(count("broken", "POST", "502"), made.bad);
    assert.equal(
      s.sum("kindwatch_gateway_requests_total"),
      made.ok + made.unauthorized + made.forbidden + made.missing + made.bad,
      "the probes and scrapes of /healthz, /readyz and /metrics are not counted as data plane requests",
    );
    assert.equal(
      s.value("kindwatch_gateway_request_duration_seconds_count", { route: "counted", method: "POST", code: "200" }),
      made.ok,
    );
    for (const name of ["gen_ai_client_token_usage", "gen_ai_server_time_to_first_token"]) {
      assert.equal(s.types.get(name), "histogram", `${name} is registered`);
    }
  });

  it("shows a breaker going from closed to open and back", { timeout: 30_000 }, async () => {
    const flaky = await OpenAIUpstream.start("flaky");
    try {
      await gw.put("routes", {
        name: "breaking",
        source: source("breaking"),
        match: { pathPrefix: "/breaking" },
        upstreams: [{ url: flaky.url, breaker: { failures: 2, openMs: 500 } }],
      });
      const state = async () =>
        (await scrape()).value("kindwatch_gateway_upstream_breaker_state", { route: "breaking", upstream: flaky.url });
      assert.equal(await state(), 0);
      flaky.fail({ kind: "status", status: 500 });
      assert.equal((await post("/breaking/v1/chat/completions")).status, 500);
      assert.equal(await state(), 0, "one failure of two does not open the breaker");
      assert.equal((await post("/breaking/v1/chat/completions")).status, 500);
      assert.equal(await state(), 2);
      // No request between: the scrape itself sees the open time run out.
      await waitFor("the breaker metric to show half-open", async () => (await state()) === 1);
      flaky.fail(undefined);
      assert.equal((await post("/breaking/v1/chat/completions")).status, 200);
      assert.equal(await state(), 0);
    } finally {
      await flaky.stop();
    }
  });

  it("writes one JSON access log line per request, without the key", { timeout: 30_000 }, async () => {
    await gw.put("routes", {
      name: "logged",
      source: source("logged"),
      match: { pathPrefix: "/logged" },
      upstreams: [{ url: upstream.url }],
      auth: { keySet: "team" },
    });
    const before = accessLog().length;
    const ok = await post("/logged/v1/chat/completions?user=x", { authorization: `Bearer ${key}` });
    assert.equal(ok.status, 200);
    assert.equal((await post("/logged/v1/chat/completions", { authorization: "Bearer sk-wrong-key" })).status, 401);
    await waitFor("two access log lines", () => accessLog().length >= before + 2);
    const [good, refused] = accessLog().slice(before);
    assert.deepEqual(
      { ...good, time: 0, durationMs: 0 },
      {
        level: "info",
        time: 0,
        msg: "request",
        route: "logged",
        method: "POST",
        path: "/logged/v1/chat/completions",
        status: 200,
        durationMs: 0,
        upstream: upstream.url,
        keyId: "alice",
        profile: null,
        stream: false,
        bytesIn: Buffer.byteLength(chat),
        bytesOut: Buffer.byteLength(ok.text),
      },
    );
    assert.equal(typeof good?.time, "number");
    assert.ok(typeof good?.durationMs === "number" && good.durationMs > 0);
    assert.equal(refused?.status, 401);
    assert.equal(refused?.keyId, null);
    assert.equal(refused?.upstream, null);
    assert.doesNotMatch(gw.cli.stdout + gw.cli.stderr, /sk-observed-secret-key|sk-other-secret-key|sk-wrong-key/);
    assert.doesNotMatch(gw.cli.stdout, /authorization/i);
  });

  it("writes no access log with --access-log=false", { timeout: 30_000 }, async () => {
    const quiet = await GatewayProcess.start({ flags: ["--access-log=false"] });
    try {
      await quiet.put("routes", {
        name: "quiet",
        source: source("quiet"),
        match: { pathPrefix: "/quiet" },
        upstreams: [{ url: upstream.url }],
      });
      assert.equal((await quiet.call("/quiet/v1/chat/completions", { method: "POST", body: chat })).status, 200);
      assert.equal((await quiet.call("/nowhere")).status, 404);
    } finally {
      // Once it has exited, everything it wrote has been read.
      await quiet.stop();
    }
    assert.equal(quiet.cli.stdout, "");
  });
});

describe("gateway: metrics of a rate-limited route (in process)", () => {
  let gw: RunningGateway;
  let upstream: OpenAIUpstream;
  let allowed = 2;

  before(async () => {
    upstream = await OpenAIUpstream.start("limited");
    // Allows the first two takes, then refuses: the limits helper's limiter in the command's place.
    const rate = {
      take: async () => {
        const ok = allowed-- > 0;
        return { allowed: ok, limit: 2, remaining: Math.max(0, allowed), resetMs: 1000, retryAfterMs: ok ? 0 : 1000 };
      },
      close: async () => {},
    };
    gw = await startGateway({ listen: "127.0.0.1:0", adminListen: "127.0.0.1:0", adminToken: "t", rate });
    gw.plane.state.put("routes", {
      name: "limited",
      source: { uid: "u", generation: 1 },
      match: { pathPrefix: "/" },
      upstreams: [{ url: upstream.url, kind: "http" }],
      limit: { requestsPerSecond: 1, burst: 2 },
    });
  });

  after(async () => {
    await gw?.stop();
    await upstream?.stop();
  });

  it("counts the 429s with the answers that went through", { timeout: 20_000 }, async () => {
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await call(`${gw.url}/x`)).status);
    assert.deepEqual(statuses, [200, 200, 429, 429, 429]);
    const s = parsePrometheusText((await call(`${gw.url}/metrics`)).text);
    assert.equal(s.value("kindwatch_gateway_requests_total", { route: "limited", method: "GET", code: "200" }), 2);
    assert.equal(s.value("kindwatch_gateway_requests_total", { route: "limited", method: "GET", code: "429" }), 3);
  });
});
