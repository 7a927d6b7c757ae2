/** Leader election's decisions on a fake clock: timing validation, observation, takeover, release, the deadline timer. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { atDeadline } from "../../src/manager/deadline.js";
import {
  acquireRetryDelay,
  claimRecord,
  defaultLeaseTiming,
  heldByOther,
  type LeaseRecord,
  leadingDeadline,
  microTime,
  observe,
  recordOf,
  releaseRecord,
  validateLeaseTiming,
} from "../../src/manager/lease.js";
import { type ClockTimer, ManualClock, type TimerClock } from "../../src/queue/clock.js";

const held: LeaseRecord = {
  holderIdentity: "a",
  leaseDurationSeconds: 15,
  acquireTime: "2026-01-01T00:00:00.000000Z",
  renewTime: "2026-01-01T00:00:10.000000Z",
  leaseTransitions: 3,
};

describe("leader election decisions", () => {
  it("accepts controller-runtime's defaults and refuses timing that could allow two leaders", () => {
    assert.deepEqual(defaultLeaseTiming, { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    validateLeaseTiming(defaultLeaseTiming);
    validateLeaseTiming({ leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 });
    const refused = [
      { leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
      { leaseDurationMs: 10_000, renewDeadlineMs: 12_000, retryPeriodMs: 2_000 },
      { leaseDurationMs: 15_000, renewDeadlineMs: 2_400, retryPeriodMs: 2_000 },
      { leaseDurationMs: 15_500, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
      { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 0 },
      { leaseDurationMs: 15_000, renewDeadlineMs: Number.NaN, retryPeriodMs: 2_000 },
    ];
    for (const t of refused) assert.throws(() => validateLeaseTiming(t), RangeError, JSON.stringify(t));
  });

  it("measures another holder's term from when its record changed here, whatever its renewTime says", () => {
    // The holder's clock is a year behind: its renewTime alone would make the lease look long expired.
    const skewed = { ...held, renewTime: "2025-01-01T00:00:00.000000Z" };
    let seen = observe(undefined, skewed, 1_000);
    assert.equal(heldByOther(seen, "b", 1_000), true);
    // Rereading the same record does not restart the clock: a holder that stopped renewing runs out.
    seen = observe(seen, { ...skewed }, 14_000);
    assert.equal(seen.observedAt, 1_000);
    assert.equal(heldByOther(seen, "b", 15_999), true);
    assert.equal(heldByOther(seen, "b", 16_000), false);
    // A renewal restarts it, from when it was seen.
    seen = observe(seen, { ...skewed, renewTime: "2025-01-01T00:00:02.000000Z" }, 15_000);
    assert.equal(seen.observedAt, 15_000);
    assert.equal(heldByOther(seen, "b", 29_999), true);
    assert.equal(heldByOther(seen, "b", 30_000), false);
  });

  it("treats a released lease as free at once, and its own as never held by another", () => {
    const released = releaseRecord(held, "2026-01-01T00:00:20.000000Z");
    assert.deepEqual(released, {
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: "2026-01-01T00:00:20.000000Z",
      renewTime: "2026-01-01T00:00:20.000000Z",
      leaseTransitions: 3,
    });
    assert.equal(heldByOther(observe(undefined, released, 0), "b", 0), false);
    assert.equal(heldByOther(observe(undefined, held, 0), "a", 0), false);
  });

  it("counts a transition on each takeover, none on a renewal", () => {
    const t = "2026-01-01T00:01:00.000000Z";
    assert.deepEqual(claimRecord(undefined, "a", 15, t), {
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: t,
      renewTime: t,
      leaseTransitions: 0,
    });
    assert.deepEqual(claimRecord(held, "a", 15, t), { ...held, renewTime: t });
    assert.deepEqual(claimRecord(held, "b", 15, t), {
      holderIdentity: "b",
      leaseDurationSeconds: 15,
      acquireTime: t,
      renewTime: t,
      leaseTransitions: 4,
    });
    assert.equal(claimRecord(releaseRecord(held, t), "a", 15, t).leaseTransitions, 4);
  });

  it("makes the leader give up before any observer may take over", () => {
    const timing = defaultLeaseTiming;
    const sentAt = 5_000;
    const giveUp = leadingDeadline(sentAt, timing.renewDeadlineMs);
    // An observer sees the write no earlier than it was sent, and waits a lease duration from then.
    for (const seenAt of [sentAt, sentAt + 1, sentAt + 3_000]) {
      const seen = observe(undefined, { ...held, leaseDurationSeconds: timing.leaseDurationMs / 1000 }, seenAt);
      assert.equal(heldByOther(seen, "b", giveUp), true);
      assert.ok(seenAt + timing.leaseDurationMs - giveUp >= timing.leaseDurationMs - timing.renewDeadlineMs);
    }
  });

  it("waits between acquire tries the retry period jittered by up to 1.2 times more", () => {
    assert.equal(acquireRetryDelay(2_000, 0), 2_000);
    assert.equal(acquireRetryDelay(2_000, 0.5), 3_200);
    assert.ok(acquireRetryDelay(2_000, 0.999999) < 4_400);
  });

  it("reads a Lease's spec, absent fields as the API defaults them, and writes MicroTime", () => {
    assert.deepEqual(recordOf(undefined), {
      holderIdentity: "",
      leaseDurationSeconds: 0,
      acquireTime: undefined,
      renewTime: undefined,
      leaseTransitions: 0,
    });
    assert.deepEqual(recordOf({ ...held, leaseTransitions: "3" }), { ...held, leaseTransitions: 0 });
    assert.equal(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 678)), "2026-01-02T03:04:05.678000Z");
  });

  it("fires the deadline timer at its deadline on the manual clock, never before, and not after a cancel", async () => {
    const clock = new ManualClock(100);
    let due: number | undefined;
    atDeadline(clock, 600, () => {
      due = clock.now();
    });
    await clock.advance(499);
    assert.equal(due, undefined);
    await clock.advance(1);
    assert.equal(due, 600);
    let cancelledFired = false;
    atDeadline(clock, 700, () => {
      cancelledFired = true;
    }).cancel();
    await clock.advance(500);
    assert.equal(cancelledFired, false);
  });

  it("re-arms the deadline timer when a timer fires before its delay has passed, as Node's may", async () => {
    // Node's timers count from the loop's cached time: this clock fires each longer timer 5 ms early.
    const manual = new ManualClock(0);
    const early: TimerClock = {
      now: () => manual.now(),
      setTimer: (ms, fn): ClockTimer => manual.setTimer(ms > 5 ? ms - 5 : ms, fn),
    };
    let due: number | undefined;
    atDeadline(early, 1_000, () => {
      due = manual.now();
    });
    await manual.advance(995);
    assert.equal(due, undefined, "fired before the deadline");
    await manual.advance(5);
    assert.equal(due, 1_000, "never fired once the deadline passed");
  });
});
