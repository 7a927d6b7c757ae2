/**
 * Hook (a) of the data plane, in process: the rate limiter is asked for the route's bucket, then the key's, with their
 * specs; a denial is a 429 in OpenAI's format with `Retry-After`, and the upstream never sees the request. The limiter
 * here is a script of decisions (the limits helper's `memoryLimits().rate` takes its place in the command).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.js";
import type { RateLimiter } from "../../src/gateway/limits/index.js";
import type { RateLimitSpec } from "../../src/gateway/state.js";
import { call, errorOf } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";

/** Allows every take, except those of the buckets in `deny`; records what it was asked. */
class ScriptedLimiter implements RateLimiter {
  readonly takes: { bucket: string; spec: RateLimitSpec }[] = [];
  readonly deny = new Set<string>();

  async take(bucket: string, spec: RateLimitSpec) {
    this.takes.push({ bucket, spec });
    const allowed = !this.deny.has(bucket);
    return { allowed, limit: spec.burst, remaining: allowed ? 1 : 0, resetMs: 1000, retryAfterMs: allowed ? 0 : 1200 };
  }

  async close() {}
}

describe("gateway: the rate limit hook", () => {
  let gw: RunningGateway;
  let up: OpenAIUpstream;
  const limiter = new ScriptedLimiter();
  const routeLimit = { requestsPerSecond: 10, burst: 20 };
  const keyLimit = { requestsPerSecond: 1, burst: 2 };

  before(async () => {
    up = await OpenAIUpstream.start("up");
    gw = await startGateway({ listen: "127.0.0.1:0", adminListen: "127.0.0.1:0", adminToken: "t", rate: limiter });
    const source = { uid: "u", generation: 1 };
    gw.plane.state.put("keysets", {
      name: "ks",
      source,
      keys: [{ id: "k1", sha256: createHash("sha256").update("sk-1").digest("hex"), limit: keyLimit }],
    });
    gw.plane.state.put("routes", {
      name: "limited",
      source,
      match: { pathPrefix: "/" },
      upstreams: [{ url: up.url, kind: "http" }],
      auth: { keySet: "ks" },
      limit: routeLimit,
    });
  });

  after(async () => {
    await gw?.stop();
    await up?.stop();
  });

  const get = () => call(`${gw.url}/x`, { headers: { authorization: "Bearer sk-1" } });

  it("takes from the route's bucket, then the key's", { timeout: 20_000 }, async () => {
    assert.equal((await get()).status, 200);
    assert.deepEqual(limiter.takes, [
      { bucket: "route:limited", spec: routeLimit },
      { bucket: "key:limited:k1", spec: keyLimit },
    ]);
  });

  it("answers an empty bucket with 429 and Retry-After, without asking the upstream", { timeout: 20_000 }, async () => {
    const seen = up.requests.length;
    limiter.deny.add("key:limited:k1");
    const answer = await get();
    assert.equal(answer.status, 429);
    assert.equal(answer.headers["retry-after"], "2");
    assert.equal(errorOf(answer).type, "rate_limit_error");
    assert.equal(errorOf(answer).code, "rate_limit_exceeded");
    assert.equal(up.requests.length, seen);
  });
});
