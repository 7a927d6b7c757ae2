/** Backoff and delay: growth, cap, jitter bounds, the reset after a healthy spell, and abortable waits. */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it, mock } from "node:test";
import { Backoff, delay } from "../../src/cache/backoff.js";

describe("Backoff", () => {
  it("doubles from the initial delay up to the cap, half of each delay fixed and half random", () => {
    const low = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
    assert.deepEqual(
      Array.from({ length: 7 }, () => low.next()),
      [50, 100, 200, 400, 500, 500, 500],
    );
    const high = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.5 });
    assert.deepEqual(
      Array.from({ length: 6 }, () => high.next()),
      [75, 150, 300, 600, 750, 750],
    );
    assert.equal(high.failures, 6);
  });

  it("follows client-go's reflector by default: 800 ms doubling to 30 s", () => {
    const b = new Backoff({ random: () => 0 });
    const delays = Array.from({ length: 8 }, () => b.next());
    assert.deepEqual(delays, [400, 800, 1600, 3200, 6400, 12_800, 15_000, 15_000]);
  });

  it("stays within [cap/2, cap) with real randomness, and finite after very many failures", () => {
    const b = new Backoff({ initialMs: 10, maxMs: 200 });
    for (let i = 0; i < 2000; i++) {
      const cap = Math.min(10 * 2 ** i, 200);
      const d = b.next();
      assert.ok(d >= cap / 2 && d < cap, `delay ${d} of failure ${i} outside [${cap / 2}, ${cap})`);
    }
    const zero = new Backoff({ initialMs: 0, maxMs: 10 });
    for (let i = 0; i < 1100; i++) zero.next();
    assert.equal(zero.next(), 0, "0 × 2^1100 is 0, not NaN");
  });

  it("forgets failures after a healthy spell of resetAfterMs, not before", () => {
    let now = 1_000_000;
    const b = new Backoff({ initialMs: 100, maxMs: 10_000, resetAfterMs: 60_000, random: () => 0, now: () => now });
    b.next();
    b.next();
    b.next();
    assert.equal(b.failures, 3);

    b.healthy();
    now += 59_999;
    assert.equal(b.next(), 400, "a spell one ms too short changes nothing");
    assert.equal(b.failures, 4);

    b.healthy();
    now += 30_000;
    b.healthy(); // a later call does not move the start of the spell
    now += 30_000;
    assert.equal(b.next(), 50, "back to the initial delay");
    assert.equal(b.failures, 1);
  });

  it("counts a healthy spell only up to the next failure", () => {
    let now = 0;
    const b = new Backoff({ initialMs: 100, resetAfterMs: 1000, random: () => 0, now: () => now });
    b.healthy();
    now += 10;
    b.next();
    now += 5000; // long after, but without a new healthy() the failure streak goes on
    assert.equal(b.next(), 100);
  });
});

describe("delay", () => {
  it("resolves true after the time, and leaves no abort listener behind", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const controller = new AbortController();
    let result: boolean | undefined;
    void delay(1000, controller.signal).then((r) => {
      result = r;
    });
    assert.equal(getEventListeners(controller.signal, "abort").length, 1);
    t.mock.timers.tick(999);
    await Promise.resolve();
    assert.equal(result, undefined);
    t.mock.timers.tick(1);
    await new Promise<void>((r) => queueMicrotask(r));
    await Promise.resolve();
    assert.equal(result, true);
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
  });

  it("resolves false at once when the signal aborts, or has aborted already", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const waiting = delay(60_000, controller.signal);
    controller.abort();
    assert.equal(await waiting, false);
    assert.equal(await delay(60_000, AbortSignal.abort()), false);
    assert.ok(Date.now() - started < 1000);
    // Had the 60 s timers been left running, this test file would not end for a minute.
  });

  it("works without a signal", async () => {
    mock.timers.enable({ apis: ["setTimeout"] });
    try {
      const waiting = delay(5);
      mock.timers.tick(5);
      assert.equal(await waiting, true);
    } finally {
      mock.timers.reset();
    }
  });
});
