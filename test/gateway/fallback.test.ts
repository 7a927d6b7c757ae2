/**
 * Fallback and circuit breakers: a route tries its upstreams in order while nothing has reached the client (refused
 * connection, 5xx, no first byte in time), never after; upstream failures become 502/503/504 in OpenAI's format; a
 * breaker per upstream opens after consecutive failures, lets one probe through after `openMs`, closes on its success.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { errorOf, GatewayProcess, source, unansweredAddress } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { waitFor } from "../support/wait.js";

const chat = (stream = false) =>
  JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }], ...(stream ? { stream: true } : {}) });

describe("gateway: fallback and breakers", () => {
  let gw: GatewayProcess;
  let primary: OpenAIUpstream;
  let secondary: OpenAIUpstream;

  before(async () => {
    [gw, primary, secondary] = await Promise.all([
      GatewayProcess.start(),
      OpenAIUpstream.start("primary"),
      OpenAIUpstream.start("secondary"),
    ]);
  });

  after(async () => {
    await Promise.all([gw?.stop(), primary?.stop(), secondary?.stop()]);
  });

  /** A route over both upstreams with breakers that do not open during a test unless it says so. */
  const route = (name: string, extra: Record<string, unknown> = {}) =>
    gw.put("routes", {
      name,
      source: source(),
      match: { pathPrefix: `/${name}` },
      upstreams: [
        { url: primary.url, breaker: { failures: 100 } },
        { url: secondary.url, breaker: { failures: 100 } },
      ],
      timeouts: { firstByteMs: 300 },
      ...extra,
    });

  const post = (path: string, body = chat()) =>
    gw.call(path, { method: "POST", body, headers: { "content-type": "application/json" } });

  it("falls back to the next upstream when the primary refuses connections", { timeout: 20_000 }, async () => {
    await route("refuse");
    await primary.refuse();
    try {
      const answer = await post("/refuse/v1/chat/completions");
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.json?.id, "cmpl-secondary");
    } finally {
      await primary.accept();
    }
  });

  it("falls back on a 5xx, sending the same body again", { timeout: 20_000 }, async () => {
    await route("five");
    primary.fail({ kind: "status", status: 500 }, 1);
    const answer = await post("/five/v1/chat/completions");
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json?.id, "cmpl-secondary");
    assert.equal(primary.to("/five/v1/chat/completions").length, 1);
    assert.equal(secondary.to("/five/v1/chat/completions")[0]?.body, chat());
  });

  it("falls back when the primary sends nothing before the first-byte timeout", { timeout: 20_000 }, async () => {
    await route("hang");
    primary.fail({ kind: "hang" }, 1);
    const started = Date.now();
    const answer = await post("/hang/v1/chat/completions");
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json?.id, "cmpl-secondary");
    assert.ok(Date.now() - started >= 290, "the fallback came before the first-byte timeout");
  });

  it("answers 504 upstream_connect_timeout when the handshake does not complete in connectMs, and falls back", {
    timeout: 20_000,
  }, async () => {
    const unanswered = await unansweredAddress();
    try {
      // The first-byte timeout is far longer: an answer before it can only come from the connect timeout.
      const timeouts = { connectMs: 300, firstByteMs: 10_000 };
      const upstream = { url: unanswered.url, breaker: { failures: 100 } };
      await gw.put("routes", {
        name: "unanswered",
        source: source(),
        match: { pathPrefix: "/unanswered" },
        upstreams: [upstream],
        timeouts,
      });
      let started = Date.now();
      const alone = await post("/unanswered/v1/chat/completions");
      assert.equal(alone.status, 504, alone.text);
      assert.equal(errorOf(alone).code, "upstream_connect_timeout");
      assert.match(errorOf(alone).message, new RegExp(`Connecting to ${unanswered.url} timed out`));
      const waited = Date.now() - started;
      assert.ok(waited >= 290 && waited < 5000, `the connect timeout took ${waited} ms`);

      await gw.put("routes", {
        name: "unanswered-fallback",
        source: source(),
        match: { pathPrefix: "/unanswered-fallback" },
        upstreams: [upstream, { url: secondary.url, breaker: { failures: 100 } }],
        timeouts,
      });
      started = Date.now();
      const fallen = await post("/unanswered-fallback/v1/chat/completions");
      assert.equal(fallen.status, 200, fallen.text);
      assert.equal(fallen.json?.id, "cmpl-secondary");
      assert.ok(Date.now() - started >= 290, "the fallback came before the connect timeout");
    } finally {
      await unanswered.close();
    }
  });

  it("does not fall back once the answer has begun: a cut stream ends the client's answer as a failure", {
    timeout: 20_000,
  }, async () => {
    await route("cut");
    primary.fail({ kind: "cut", afterChunks: 1 }, 1);
    const answer = await request(`${gw.url}/cut/v1/chat/completions`, {
      method: "POST",
      body: chat(true),
      headers: { "content-type": "application/json" },
    });
    assert.equal(answer.statusCode, 200);
    let received = "";
    await assert.rejects(async () => {
      for await (const chunk of answer.body) received += chunk.toString();
    });
    assert.match(received, /"content":"Hello"/);
    assert.equal(secondary.to("/cut/v1/chat/completions").length, 0);
  });

  it("answers 502 when every upstream fails to connect, 504 when none answers in time, each in OpenAI's format", {
    timeout: 20_000,
  }, async () => {
    await route("down");
    primary.fail({ kind: "status", status: 503 }, 1);
    await secondary.refuse();
    try {
      const refused = await post("/down/v1/chat/completions");
      assert.equal(refused.status, 502, refused.text);
      assert.equal(errorOf(refused).type, "server_error");
      assert.match(errorOf(refused).message, /ECONNREFUSED/);
    } finally {
      await secondary.accept();
    }
    primary.fail({ kind: "hang" }, 1);
    secondary.fail({ kind: "hang" }, 1);
    const slow = await post("/down/v1/chat/completions");
    assert.equal(slow.status, 504, slow.text);
    assert.equal(errorOf(slow).code, "upstream_timeout");
  });

  it("holds a route's total timeout: 504 before the head, a cut answer after it", { timeout: 20_000 }, async () => {
    await gw.put("routes", {
      name: "total",
      source: source(),
      match: { pathPrefix: "/total" },
      upstreams: [{ url: primary.url, breaker: { failures: 100 } }],
      timeouts: { firstByteMs: 10_000, totalMs: 600 },
    });
    primary.fail({ kind: "hang" }, 1);
    const started = Date.now();
    const late = await post("/total/v1/chat/completions");
    assert.equal(late.status, 504, late.text);
    assert.equal(errorOf(late).code, "upstream_timeout");
    assert.ok(Date.now() - started < 5000, "the total timeout did not end the wait for the head");
    primary.behaviour.chunks = 10;
    primary.behaviour.chunkDelayMs = 200;
    try {
      const answer = await request(`${gw.url}/total/v1/chat/completions`, { method: "POST", body: chat(true) });
      assert.equal(answer.statusCode, 200);
      let received = "";
      await assert.rejects(async () => {
        for await (const chunk of answer.body) received += chunk.toString();
      });
      assert.match(received, /"content":"Hello"/);
      assert.doesNotMatch(received, /\[DONE\]/);
    } finally {
      delete primary.behaviour.chunks;
      delete primary.behaviour.chunkDelayMs;
    }
  });

  it("passes the last upstream's own 5xx answer through", { timeout: 20_000 }, async () => {
    await route("last");
    primary.fail({ kind: "status", status: 500 }, 1);
    secondary.fail({ kind: "status", status: 503 }, 1);
    const answer = await post("/last/v1/chat/completions");
    assert.equal(answer.status, 503);
    assert.equal(errorOf(answer).message, "secondary fails");
  });

  it("opens a breaker after consecutive failures, skips its upstream, then half-opens and closes on a good probe", {
    timeout: 20_000,
  }, async () => {
    await gw.put("routes", {
      name: "brk",
      source: source(),
      match: { pathPrefix: "/brk" },
      upstreams: [
        { url: primary.url, breaker: { failures: 2, openMs: 1000 } },
        { url: secondary.url, breaker: { failures: 100 } },
      ],
      timeouts: { firstByteMs: 500 },
    });
    const breakerOf = async () => {
      const routes = (await gw.state()).routes as { name: string; breakers: { state: string; url: string }[] }[];
      return routes.find((r) => r.name === "brk")?.breakers[0]?.state;
    };
    const path = "/brk/v1/chat/completions";
    assert.equal(await breakerOf(), "closed");
    primary.fail({ kind: "status", status: 500 });
    try {
      assert.equal((await post(path)).json?.id, "cmpl-secondary");
      assert.equal(await breakerOf(), "closed");
      assert.equal((await post(path)).json?.id, "cmpl-secondary");
      assert.equal(await breakerOf(), "open");
      // Any change recompiles the routes; the breakers of upstreams that did not change stay as they are.
      await gw.put("keysets", { name: "unrelated", source: source(), keys: [] });
      assert.equal(await breakerOf(), "open");
      const tried = primary.to(path).length;
      assert.equal((await post(path)).json?.id, "cmpl-secondary");
      assert.equal(primary.to(path).length, tried, "an open breaker's upstream got a request");
      await waitFor("the breaker to half-open", async () => (await breakerOf()) === "half-open");
      // One probe at a time: while it waits for its first byte, other requests skip the upstream.
      primary.fail({ kind: "hang" }, 1);
      const probe = post(path);
      await waitFor("the probe to reach the primary", () => primary.to(path).length === tried + 1);
      assert.equal((await post(path)).json?.id, "cmpl-secondary");
      assert.equal(primary.to(path).length, tried + 1, "a half-open breaker let a second request through");
      // The probe fails (no first byte in time), falls back, and opens the breaker again at once.
      assert.equal((await probe).json?.id, "cmpl-secondary");
      assert.equal(await breakerOf(), "open");
    } finally {
      primary.fail(undefined);
    }
    await waitFor("the breaker to half-open again", async () => (await breakerOf()) === "half-open");
    assert.equal((await post(path)).json?.id, "cmpl-primary");
    assert.equal(await breakerOf(), "closed");
  });

  it("answers 503 when the only upstream's breaker is open", { timeout: 20_000 }, async () => {
    await gw.put("routes", {
      name: "only",
      source: source(),
      match: { pathPrefix: "/only" },
      upstreams: [{ url: primary.url, breaker: { failures: 1, openMs: 60_000 } }],
    });
    primary.fail({ kind: "status", status: 500 }, 1);
    assert.equal((await post("/only/v1/chat/completions")).status, 500);
    const answer = await post("/only/v1/chat/completions");
    assert.equal(answer.status, 503, answer.text);
    assert.equal(errorOf(answer).code, "breaker_open");
  });
});
