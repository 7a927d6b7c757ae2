/** Rate limiters on a fake clock: exponential, token bucket (reserve semantics), max-of, forget, the defaults. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bucketRateLimiter,
  defaultControllerRateLimiter,
  exponentialRateLimiter,
  ManualClock,
  maxOfRateLimiters,
  Workqueue,
} from "../../src/queue/index.js";

describe("rate limiters", () => {
  it("exponential: base * 2^failures per key, capped, counted, reset by forget", () => {
    const limiter = exponentialRateLimiter({ baseMs: 1, maxMs: 1_000 });
    assert.deepEqual(
      Array.from({ length: 12 }, () => limiter.when("a")),
      [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1_000, 1_000],
    );
    assert.equal(limiter.when("b"), 1, "keys back off independently");
    assert.equal(limiter.numRequeues("a"), 12);
    limiter.forget("a");
    assert.equal(limiter.numRequeues("a"), 0);
    assert.equal(limiter.when("a"), 1);
  });

  it("exponential defaults to 5 ms up to 1,000 s", () => {
    const limiter = exponentialRateLimiter();
    assert.equal(limiter.when("a"), 5);
    assert.equal(limiter.when("a"), 10);
    for (let i = 0; i < 40; i++) limiter.when("a");
    assert.equal(limiter.when("a"), 1_000_000);
  });

  it("bucket: the burst goes at once, the Nth token after it waits N / qps, idle time refills up to the burst", async () => {
    const clock = new ManualClock();
    const limiter = bucketRateLimiter({ qps: 10, burst: 3, clock });
    assert.deepEqual(
      Array.from({ length: 5 }, (_, i) => limiter.when(`k${i}`)),
      [0, 0, 0, 100, 200],
    );
    await clock.advance(200);
    assert.equal(limiter.when("x"), 100, "the reserved tokens are paid back first");
    await clock.advance(60_000);
    assert.deepEqual(
      Array.from({ length: 4 }, () => limiter.when("same")),
      [0, 0, 0, 100],
      "no more than the burst is saved up",
    );
    assert.equal(limiter.numRequeues("same"), 0, "the bucket counts no keys");
  });

  it("max-of: the longest delay, every limiter asked each time, forget reaching all", () => {
    const clock = new ManualClock();
    const limiter = maxOfRateLimiters(
      exponentialRateLimiter({ baseMs: 1, maxMs: 1_000_000 }),
      bucketRateLimiter({ qps: 1, burst: 2, clock }),
      exponentialRateLimiter({ baseMs: 3, maxMs: 10 }),
    );
    assert.deepEqual(
      Array.from({ length: 4 }, () => limiter.when("a")),
      [3, 6, 1_000, 2_000],
    );
    assert.equal(limiter.numRequeues("a"), 4);
    limiter.forget("a");
    assert.equal(limiter.numRequeues("a"), 0, "forget resets every per-key limiter");
    assert.equal(limiter.when("a"), 3_000, "while the shared bucket stays spent");
  });

  it("the controller default: 5 ms per key doubling, and the 101st retry within a second waits 100 ms", () => {
    const clock = new ManualClock();
    const limiter = defaultControllerRateLimiter(clock);
    assert.equal(limiter.when("a"), 5);
    assert.equal(limiter.when("a"), 10);
    for (let i = 0; i < 98; i++) limiter.when(`other-${i}`);
    assert.equal(limiter.when("b"), 100, "the bucket's 101st token");
    assert.equal(limiter.when("c"), 200);
  });

  it("addRateLimited delays by the limiter's answer; forget and numRequeues reach it", async () => {
    const clock = new ManualClock();
    const q = new Workqueue<string>({ clock, rateLimiter: exponentialRateLimiter({ baseMs: 100, maxMs: 10_000 }) });
    q.addRateLimited("a");
    q.addRateLimited("a");
    assert.equal(q.numRequeues("a"), 2);
    await clock.advance(99);
    assert.equal(q.length, 0);
    await clock.advance(1);
    assert.equal(q.length, 1, "the earlier of the two delays (100 ms, then 200 ms) wins");
    q.forget("a");
    assert.equal(q.numRequeues("a"), 0);
  });
});
