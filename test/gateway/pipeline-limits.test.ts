/**
 * The limits in the gateway process: a route's request rate holds at its configured rate over seconds (one replica in
 * memory, and two replicas sharing one Redis), with OpenAI's 429 and `x-ratelimit-*` headers; a profile's token budget
 * holds while streams are open (the excess refused before the upstream is called) and gets the unused part back when
 * they end, a client that left included.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { call, errorOf, GatewayProcess, source } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { startRedis, type TestRedis } from "../support/redis.js";
import { waitFor } from "../support/wait.js";

/** Sends requests to `urls` (three at a time each) for `ms`, counting 200s and 429s; anything else fails the test. */
async function hammer(urls: string[], ms: number): Promise<{ allowed: number; denied: number; seconds: number }> {
  let allowed = 0;
  let denied = 0;
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(
    urls.flatMap((url) =>
      [0, 1, 2].map(async () => {
        while (performance.now() < deadline) {
          const answer = await call(url);
          if (answer.status === 200) allowed++;
          else if (answer.status === 429) denied++;
          else throw new Error(`unexpected ${answer.status}: ${answer.text}`);
        }
      }),
    ),
  );
  return { allowed, denied, seconds: (performance.now() - start) / 1000 };
}

const rate = { requestsPerSecond: 20, burst: 5 };

function assertRate(got: { allowed: number; denied: number; seconds: number }, detail: string): void {
  const expected = rate.requestsPerSecond * got.seconds + rate.burst;
  const why = `${got.allowed} allowed, ${got.denied} refused in ${got.seconds.toFixed(2)} s; a bucket grants ${expected.toFixed(1)} (${detail})`;
  assert.ok(got.denied > 0, why);
  assert.ok(Math.abs(got.allowed - expected) <= expected * 0.1, why);
}

describe("gateway limits: request rate", () => {
  let up: OpenAIUpstream;
  before(async () => {
    up = await OpenAIUpstream.start("up");
  });
  after(async () => {
    await up?.stop();
  });

  const route = () => ({
    name: "rated",
    source: source("rated"),
    match: { pathPrefix: "/r" },
    upstreams: [{ url: up.url, kind: "http" as const }],
    limit: rate,
  });

  it("allows the configured rate over seconds, refuses the rest with OpenAI's 429", { timeout: 60_000 }, async (t) => {
    const gw = await GatewayProcess.start();
    try {
      await gw.put("routes", route());
      const first = await gw.call("/r/x");
      assert.equal(first.status, 200);
      assert.equal(first.headers["x-ratelimit-limit-requests"], "5");
      assert.equal(first.headers["x-ratelimit-remaining-requests"], "4");
      assert.match(String(first.headers["x-ratelimit-reset-requests"]), /^\d+ms$/);
      // Ten at once take the burst's four left, and refill adds one per 50 ms: some are refused.
      const burst = await Promise.all(Array.from({ length: 10 }, () => gw.call("/r/x")));
      const refused = burst.find((a) => a.status === 429);
      assert.ok(refused, burst.map((a) => a.status).join(" "));
      assert.equal(errorOf(refused).type, "rate_limit_error");
      assert.equal(errorOf(refused).code, "rate_limit_exceeded");
      assert.equal(refused.headers["retry-after"], "1");
      assert.equal(refused.headers["x-ratelimit-remaining-requests"], "0");
      // A fresh bucket for the measurement: the route's generation changes nothing in the bucket, so wait it full.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const got = await hammer([`${gw.url}/r/x`], 3000);
      t.diagnostic(JSON.stringify(got));
      assertRate(got, "one replica");
    } finally {
      await gw.stop();
    }
  });

  describe("two replicas sharing one Redis", () => {
    let redis: TestRedis;
    before(async () => {
      redis = await startRedis();
    });
    after(async () => {
      await redis?.stop();
    });

    it("hold one limit between them, not one each", { timeout: 60_000 }, async (t) => {
      const [a, b] = (await GatewayProcess.startAll([{ redis: redis.url }, { redis: redis.url }])) as [
        GatewayProcess,
        GatewayProcess,
      ];
      try {
        const spec = route();
        await Promise.all([a.put("routes", spec), b.put("routes", spec)]);
        const got = await hammer([`${a.url}/r/x`, `${b.url}/r/x`], 3000);
        t.diagnostic(JSON.stringify(got));
        assertRate(got, "two replicas");
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });

    it("share session history: a conversation goes on at the other replica", { timeout: 60_000 }, async () => {
      const [a, b] = (await GatewayProcess.startAll([{ redis: redis.url }, { redis: redis.url }])) as [
        GatewayProcess,
        GatewayProcess,
      ];
      try {
        const profile = { name: "talk", source: source("talk"), model: "m", history: { retention: "session" } };
        const llm = {
          name: "talk",
          source: source("talk-route"),
          match: { pathPrefix: "/v1" },
          upstreams: [{ url: up.url, kind: "openai" }],
          profile: "talk",
        };
        for (const gw of [a, b]) {
          await gw.put("profiles", profile);
          await gw.put("routes", llm);
        }
        const say = (gw: GatewayProcess, content: string) =>
          gw.call("/v1/chat/completions", {
            method: "POST",
            headers: { "content-type": "application/json", "x-session-id": "shared-1" },
            body: JSON.stringify({ messages: [{ role: "user", content }] }),
          });
        assert.equal((await say(a, "first")).status, 200);
        assert.equal((await say(b, "second")).status, 200);
        assert.deepEqual(up.requests.at(-1)?.json?.messages, [
          { role: "user", content: "first" },
          { role: "assistant", content: "Hello w1 up" },
          { role: "user", content: "second" },
        ]);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });

    it("answer 503 while Redis is gone, or admit uncounted with --redis-fail-open", { timeout: 60_000 }, async () => {
      const other = await startRedis();
      const [closed, open] = (await GatewayProcess.startAll([
        { redis: other.url },
        { redis: other.url, redisFailOpen: true },
      ])) as [GatewayProcess, GatewayProcess];
      try {
        const spec = route();
        await Promise.all([closed.put("routes", spec), open.put("routes", spec)]);
        assert.equal((await closed.call("/r/x")).status, 200);
        await other.kill();
        const refused = await closed.call("/r/x");
        assert.equal(refused.status, 503, refused.text);
        assert.equal(errorOf(refused).code, "limits_unavailable");
        assert.equal((await open.call("/r/x")).status, 200);
      } finally {
        await Promise.all([closed.stop(), open.stop()]);
        await other.stop();
      }
    });
  });
});

describe("gateway limits: token budgets during streams", () => {
  let gw: GatewayProcess;
  let up: OpenAIUpstream;
  before(async () => {
    [gw, up] = await Promise.all([GatewayProcess.start(), OpenAIUpstream.start("up")]);
    await gw.put("profiles", { name: "budgeted", source: source("p"), model: "gpt-4o-mini", tokensPerMinute: 1000 });
    await gw.put("routes", {
      name: "llm",
      source: source("r"),
      match: { pathPrefix: "/v1" },
      upstreams: [{ url: up.url, kind: "openai" }],
      profile: "budgeted",
    });
  });
  after(async () => {
    await Promise.all([gw?.stop(), up?.stop()]);
  });

  const body = (maxTokens: number) =>
    JSON.stringify({ model: "x", stream: true, max_tokens: maxTokens, messages: [{ role: "user", content: "hi" }] });
  const open = (maxTokens: number, signal?: AbortSignal) =>
    request(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      body: body(maxTokens),
      headers: { "content-type": "application/json" },
      ...(signal ? { signal } : {}),
    });

  it("refuses what exceeds the budget at admission and refunds the unused part at the end", {
    timeout: 60_000,
  }, async () => {
    const release = up.holdAfterFirstChunk();
    const aborter = new AbortController();
    // Each reserves its prompt (~8 tokens) and 300: three fit in 1000, a fourth does not.
    const streams = await Promise.all([open(300), open(300), open(300, aborter.signal)]);
    for (const s of streams) assert.equal(s.statusCode, 200);
    await waitFor("the upstream to have the three streams", () => up.requests.length === 3);
    const remaining = Number(streams[2]?.headers["x-ratelimit-remaining-tokens"]);
    assert.ok(remaining < 100, `remaining ${remaining}`);

    const refused = await gw.call("/v1/chat/completions", {
      method: "POST",
      body: body(300),
      headers: { "content-type": "application/json" },
    });
    assert.equal(refused.status, 429, refused.text);
    assert.equal(errorOf(refused).type, "rate_limit_error");
    assert.equal(refused.headers["x-ratelimit-limit-tokens"], "1000");
    assert.ok(Number(refused.headers["retry-after"]) >= 1);
    assert.equal(up.requests.length, 3, "a refused request never reaches the upstream");

    // One client leaves mid-stream; its reservation is settled too.
    aborter.abort();
    await streams[2]?.body.text().catch(() => {});
    await waitFor("the upstream to see the client leave", () => up.requests.some((r) => r.aborted));
    release();
    const texts = await Promise.all(streams.slice(0, 2).map((s) => s.body.text()));
    for (const text of texts) assert.match(text, /\[DONE\]/);
    // Each used ~35 tokens of the 308 it reserved (the one that left, fewer): with all three refunds a request of
    // ~790 fits at once; with any one missing, only after ten seconds of refill.
    const again = await waitFor(
      "a request to fit again",
      async () => {
        const a = await gw.call("/v1/chat/completions", {
          method: "POST",
          body: body(780),
          headers: { "content-type": "application/json" },
        });
        return a.status === 200 && a;
      },
      { timeoutMs: 3000 },
    );
    assert.match(again.text, /\[DONE\]/);
  });
});
