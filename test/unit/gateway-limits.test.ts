/** The gateway's limits kept in memory, on a fake clock: bucket and budget arithmetic, and the headers built from them. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  formatDuration,
  memoryLimits,
  type RateDecision,
  type Reservation,
  rateLimitHeaders,
} from "../../src/gateway/limits/index.js";

function fake() {
  const clock = { now: 1_000_000 };
  const limits = memoryLimits({ clock: () => clock.now, reservationTtlMs: 60_000 });
  return { clock, ...limits };
}

function reserved(r: Awaited<ReturnType<ReturnType<typeof memoryLimits>["budgets"]["reserve"]>>): Reservation {
  assert.equal(r.ok, true, `reservation refused: ${JSON.stringify(r)}`);
  return r as Reservation;
}

describe("gateway limits: request buckets in memory", () => {
  it("grants the burst at once, then one request per 1/rate, and never more than the burst after idling", async () => {
    const { clock, rate } = fake();
    const spec = { requestsPerSecond: 5, burst: 10 };
    const first: RateDecision[] = [];
    for (let i = 0; i < 11; i++) first.push(await rate.take("r", spec));
    assert.deepEqual(
      first.map((d) => d.allowed),
      [...Array(10).fill(true), false],
    );
    assert.deepEqual(
      first.map((d) => d.remaining),
      [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0],
    );
    assert.deepEqual(first[10], { allowed: false, limit: 10, remaining: 0, resetMs: 2000, retryAfterMs: 200 });

    clock.now += 199;
    assert.equal((await rate.take("r", spec)).allowed, false);
    assert.equal((await rate.take("r", spec)).retryAfterMs, 1);
    clock.now += 1;
    assert.equal((await rate.take("r", spec)).allowed, true);
    assert.equal((await rate.take("r", spec)).allowed, false);

    clock.now += 1000;
    let granted = 0;
    while ((await rate.take("r", spec)).allowed) granted++;
    assert.equal(granted, 5, "one second refills requestsPerSecond");

    for (const idle of [5_000, 60_000]) {
      clock.now += idle;
      granted = 0;
      while ((await rate.take("r", spec)).allowed) granted++;
      assert.equal(granted, 10, `${idle} ms idle refill no more than the burst`);
    }
  });

  it("keeps buckets apart, takes an explicit time, and refuses shapes no bucket can have", async () => {
    const { rate } = fake();
    const spec = { requestsPerSecond: 1, burst: 1 };
    assert.equal((await rate.take("a", spec, 0)).allowed, true);
    assert.equal((await rate.take("a", spec, 500)).allowed, false);
    assert.equal((await rate.take("b", spec, 500)).allowed, true);
    assert.equal((await rate.take("a", spec, 1000)).allowed, true);
    await assert.rejects(rate.take("c", { requestsPerSecond: 0, burst: 1 }), /requestsPerSecond must be a positive/);
    await assert.rejects(rate.take("c", { requestsPerSecond: 1, burst: 0.5 }), /burst must be a number of at least 1/);
  });
});

describe("gateway limits: token budgets in memory", () => {
  it("reserves at admission, refunds the unused part once, and charges over-use as a debt", async () => {
    const { clock, budgets } = fake();
    const a = reserved(await budgets.reserve("p", 600, 400));
    assert.deepEqual(
      { ...a, id: "", settle: null },
      { ok: true, id: "", limit: 600, remaining: 200, resetMs: 40_000, settle: null },
    );
    const denied = await budgets.reserve("p", 600, 300);
    assert.deepEqual(denied, { ok: false, limit: 600, remaining: 200, resetMs: 40_000, retryAfterMs: 10_000 });

    await a.settle(100);
    await a.settle(100);
    const b = reserved(await budgets.reserve("p", 600, 300));
    assert.equal(b.remaining, 200, "the 300 unused were refunded once, not twice");

    await b.settle(500);
    const after = await budgets.reserve("p", 600, 1);
    assert.equal(after.ok, false, "over-use of 200 took the budget to 0");
    assert.equal(after.retryAfterMs, 100, "1 token at 10 per second");

    clock.now += 60_000;
    assert.equal(reserved(await budgets.reserve("p", 600, 600)).remaining, 0, "a minute refills the whole budget");
  });

  it("takes a refund only up to the budget, clamps a reservation larger than the budget, and refuses bad budgets", async () => {
    const { clock, budgets } = fake();
    const a = reserved(await budgets.reserve("p", 600, 100));
    clock.now += 10_000;
    await a.settle(0);
    assert.equal(
      reserved(await budgets.reserve("p", 600, 600)).remaining,
      0,
      "refilled and refunded, still 600 at most",
    );

    clock.now += 60_000;
    const huge = reserved(await budgets.reserve("p", 600, 5000));
    assert.equal(huge.remaining, 0, "clamped to the budget, admitted when it is full");
    await huge.settle(900);
    const next = await budgets.reserve("p", 600, 1);
    assert.equal(next.ok, false);
    assert.equal(next.retryAfterMs, 30_100, "the 300 over the budget are a debt of 30 s");
    await assert.rejects(budgets.reserve("p", 0, 1), /tokensPerMinute must be a positive/);
  });

  it("never admits concurrent reservations beyond the budget", async () => {
    const { budgets } = fake();
    const all = await Promise.all(Array.from({ length: 50 }, () => budgets.reserve("p", 1000, 90)));
    assert.equal(all.filter((r) => r.ok).length, 11);
    const held = all.filter((r): r is Reservation => r.ok);
    await Promise.all(held.map((r) => r.settle(90)));
    assert.equal((await budgets.reserve("p", 1000, 11)).ok, false, "10 tokens are left");
  });

  it("forgets a reservation not settled within its time: a late settle refunds nothing", async () => {
    const { clock, budgets } = fake();
    const a = reserved(await budgets.reserve("p", 600, 600));
    clock.now += 60_001;
    reserved(await budgets.reserve("p", 600, 600));
    await a.settle(0);
    assert.equal((await budgets.reserve("p", 600, 1)).ok, false, "the expired reservation was not refunded");
  });
});

describe("gateway limits: x-ratelimit headers", () => {
  it("writes durations the way OpenAI does", () => {
    const cases: [number, string][] = [
      [0, "0s"],
      [0.4, "1ms"],
      [20, "20ms"],
      [999, "999ms"],
      [1000, "1s"],
      [8640, "8.64s"],
      [59_904, "59.904s"],
      [90_500, "1m30.5s"],
      [360_000, "6m0s"],
      [3_600_000, "1h0m0s"],
      [3_723_000, "1h2m3s"],
    ];
    assert.deepEqual(
      cases.map(([ms]) => formatDuration(ms)),
      cases.map(([, text]) => text),
    );
  });

  it("builds the requests and tokens trios, with Retry-After rounded up to whole seconds on a refusal", () => {
    const allowed: RateDecision = { allowed: true, limit: 10, remaining: 9, resetMs: 200, retryAfterMs: 0 };
    assert.deepEqual(rateLimitHeaders(allowed), {
      "x-ratelimit-limit-requests": "10",
      "x-ratelimit-remaining-requests": "9",
      "x-ratelimit-reset-requests": "200ms",
    });
    const refused: RateDecision = { allowed: false, limit: 10, remaining: 0, resetMs: 2000, retryAfterMs: 1200 };
    assert.equal(rateLimitHeaders(refused)["retry-after"], "2");
    const budget = { ok: false, limit: 600, remaining: 200, resetMs: 360_000, retryAfterMs: 30_001 };
    assert.deepEqual(rateLimitHeaders(allowed, budget), {
      "x-ratelimit-limit-requests": "10",
      "x-ratelimit-remaining-requests": "9",
      "x-ratelimit-reset-requests": "200ms",
      "x-ratelimit-limit-tokens": "600",
      "x-ratelimit-remaining-tokens": "200",
      "x-ratelimit-reset-tokens": "6m0s",
      "retry-after": "31",
    });
    assert.equal(rateLimitHeaders(refused, budget)["retry-after"], "31", "the later of the two refusals");
    assert.equal(rateLimitHeaders(undefined, { ...budget, ok: true })["retry-after"], undefined);
  });
});
