/** The token bucket on a fake clock: burst, rate, FIFO order, aborts while queued, disable. */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { TokenBucket } from "../../src/http/ratelimit.js";

/** A clock that moves only when the test says, together with Node's mocked setTimeout. */
function fakeClock() {
  let now = 0;
  return {
    now: () => now,
    async advance(ms: number) {
      now += ms;
      mock.timers.tick(ms);
      // Let the promises that the timers resolved run their continuations.
      for (let i = 0; i < 5; i++) await Promise.resolve();
    },
  };
}

/** Tracks which of the given promises have settled, and how. */
function track(promises: Promise<void>[]) {
  const state = promises.map(() => "pending" as "pending" | "resolved" | "rejected");
  const order: number[] = [];
  for (const [i, p] of promises.entries()) {
    p.then(
      () => {
        state[i] = "resolved";
        order.push(i);
      },
      () => {
        state[i] = "rejected";
      },
    );
  }
  return { state, order };
}

describe("TokenBucket", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout"] }));
  afterEach(() => mock.timers.reset());

  it("lets a burst through at once, then makes the next caller wait for a token", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(10, 3, clock.now);
    const t = track([bucket.take(), bucket.take(), bucket.take(), bucket.take()]);
    await clock.advance(0);
    assert.deepEqual(t.state, ["resolved", "resolved", "resolved", "pending"]);
    assert.equal(bucket.delayed, 1);
    assert.equal(bucket.waiting, 1);
    await clock.advance(99);
    assert.equal(t.state[3], "pending", "a token takes 100 ms at 10 qps");
    await clock.advance(1);
    assert.equal(t.state[3], "resolved");
    assert.equal(bucket.waiting, 0);
  });

  it("hands out tokens at the rate, one per interval, in the order they were asked for", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(4, 1, clock.now);
    const t = track([bucket.take(), bucket.take(), bucket.take(), bucket.take(), bucket.take()]);
    await clock.advance(0);
    assert.equal(t.order.length, 1);
    for (let step = 2; step <= 5; step++) {
      await clock.advance(249);
      assert.equal(t.order.length, step - 1, `no token before 250 ms have passed (step ${step})`);
      await clock.advance(1);
      assert.equal(t.order.length, step, `one more token after 250 ms (step ${step})`);
    }
    assert.deepEqual(t.order, [0, 1, 2, 3, 4]);
    assert.equal(bucket.delayed, 4);
  });

  it("saves up no more than the burst while idle", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(100, 2, clock.now);
    await bucket.take();
    await bucket.take();
    await clock.advance(60_000);
    const t = track([bucket.take(), bucket.take(), bucket.take()]);
    await clock.advance(0);
    assert.deepEqual(t.state, ["resolved", "resolved", "pending"]);
  });

  it("rejects a queued caller at once when its signal aborts, and the others keep their turns", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(10, 1, clock.now);
    await bucket.take();
    const controller = new AbortController();
    const first = bucket.take();
    const second = bucket.take(controller.signal);
    const third = bucket.take();
    const t = track([first, second, third]);
    controller.abort(new Error("caller gave up"));
    await clock.advance(0);
    assert.deepEqual(t.state, ["pending", "rejected", "pending"], "rejected while still behind the first");
    await assert.rejects(second, /caller gave up/);
    assert.equal(bucket.waiting, 2);
    await clock.advance(100);
    assert.deepEqual(t.state, ["resolved", "rejected", "pending"]);
    await clock.advance(100);
    assert.deepEqual(t.state, ["resolved", "rejected", "resolved"], "the aborted caller took no token");
  });

  it("rejects at once with the signal's reason when it has already aborted", async () => {
    const bucket = new TokenBucket(10, 5);
    const reason = new Error("already gone");
    await assert.rejects(bucket.take(AbortSignal.abort(reason)), (err) => err === reason);
    assert.equal(bucket.delayed, 0);
  });

  it("releases every waiter when disabled, and lets everyone through afterwards", async () => {
    const clock = fakeClock();
    const bucket = new TokenBucket(1, 1, clock.now);
    await bucket.take();
    const t = track([bucket.take(), bucket.take(), bucket.take()]);
    await clock.advance(0);
    assert.deepEqual(t.state, ["pending", "pending", "pending"]);
    bucket.disable();
    await clock.advance(0);
    assert.deepEqual(t.state, ["resolved", "resolved", "resolved"]);
    assert.deepEqual(t.order, [0, 1, 2]);
    assert.ok(bucket.disabled);
    const later = track(Array.from({ length: 100 }, () => bucket.take()));
    await clock.advance(0);
    assert.ok(later.state.every((s) => s === "resolved"));
  });

  it("refuses a rate that is not a positive number", () => {
    assert.throws(() => new TokenBucket(0, 1), RangeError);
    assert.throws(() => new TokenBucket(-5, 1), RangeError);
    assert.throws(() => new TokenBucket(Number.NaN, 1), RangeError);
    assert.equal(new TokenBucket(0.5, 0).burst, 1, "a burst below one still lets one caller through");
  });
});
