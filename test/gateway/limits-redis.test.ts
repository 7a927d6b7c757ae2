/**
 * The limits in a real Redis: the same arithmetic as in memory, settles, expiry of idle keys and of unsettled
 * reservations, scripts the server forgot, and what a decision does while Redis is gone and when it is back.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type Limits,
  LimitsUnavailableError,
  memoryLimits,
  type RateDecision,
  type Reservation,
  redisLimits,
} from "../../src/gateway/limits/index.js";
import { startRedis, type TestRedis } from "../support/redis.js";
import { outcome, uniqueName, waitFor } from "../support/wait.js";

let redis: TestRedis;
const opened: Limits[] = [];
function limits(options: Parameters<typeof redisLimits>[1] = {}): Limits {
  const l = redisLimits(redis.url, { prefix: `${uniqueName("t")}:`, ...options });
  opened.push(l);
  return l;
}
function reserved(r: Reservation | { ok: false }): Reservation {
  assert.equal(r.ok, true, `reservation refused: ${JSON.stringify(r)}`);
  return r as Reservation;
}

before(async () => {
  redis = await startRedis();
});
after(async () => {
  await Promise.all(opened.map((l) => l.rate.close()));
  await redis.stop();
});

describe("gateway limits in Redis", () => {
  it("counts a bucket as memory does", async () => {
    const spec = { requestsPerSecond: 1, burst: 5 };
    const inRedis = limits();
    const inMemory = memoryLimits({ clock: () => 0 });
    const r: RateDecision[] = [];
    const m: RateDecision[] = [];
    for (let i = 0; i < 7; i++) {
      r.push(await inRedis.rate.take("b", spec));
      m.push(await inMemory.rate.take("b", spec));
    }
    const counts = (ds: typeof r) => ds.map((d) => [d.allowed, d.limit, d.remaining]);
    assert.deepEqual(counts(r), counts(m));
    // Redis's clock ran on between the takes: up to a second refills one request, so the times can only be shorter.
    for (const [i, d] of r.entries()) {
      const expected = m[i];
      assert.ok(expected);
      assert.ok(d.resetMs <= expected.resetMs && d.resetMs > expected.resetMs - 1000, `reset ${d.resetMs}`);
      assert.ok(d.retryAfterMs <= expected.retryAfterMs && d.retryAfterMs > expected.retryAfterMs - 1000);
    }
    assert.deepEqual(
      r.map((d) => d.allowed),
      [true, true, true, true, true, false, false],
    );
  });

  it("reserves, refunds once, and charges over-use as memory does", async () => {
    const { budgets } = limits();
    // 600 tokens a minute: the 10 ms a step may take in Redis refill 0.1 token, never a whole one.
    const a = reserved(await budgets.reserve("p", 600, 400));
    assert.equal(a.remaining, 200);
    const denied = await budgets.reserve("p", 600, 300);
    assert.equal(denied.ok, false);
    assert.ok(denied.ok === false && denied.retryAfterMs > 9_000 && denied.retryAfterMs <= 10_000);
    await a.settle(100);
    await a.settle(100);
    const b = reserved(await budgets.reserve("p", 600, 300));
    assert.equal(b.remaining, 200, "the 300 unused were refunded once, not twice");
    await b.settle(500);
    const after = await budgets.reserve("p", 600, 100);
    assert.equal(after.ok, false, "over-use of 200 took the budget to 0");
  });

  it("shares one budget between two connections: concurrent reservations never exceed it, each refunded once", async () => {
    const prefix = `${uniqueName("t")}:`;
    const one = limits({ prefix });
    const two = limits({ prefix });
    const held = await Promise.all(Array.from({ length: 30 }, () => one.budgets.reserve("p", 1200, 100)));
    assert.equal(held.filter((r) => r.ok).length, 12, "concurrent reservations never exceed the budget");
    assert.equal((await two.budgets.reserve("p", 1200, 100)).ok, false, "the other replica sees the budget spent");
    await Promise.all(held.filter((r): r is Reservation => r.ok).map((r) => Promise.all([r.settle(0), r.settle(0)])));
    const after = reserved(await two.budgets.reserve("p", 1200, 1));
    assert.equal(after.remaining, 1199, "every reservation refunded, none twice");
  });

  it("lets idle buckets, budgets and reservations expire, so Redis does not fill up", async () => {
    const prefix = `${uniqueName("t")}:`;
    const l = limits({ prefix, reservationTtlMs: 300 });
    for (let i = 0; i < 20; i++) await l.rate.take(`route-${i}`, { requestsPerSecond: 1000, burst: 5 });
    const settled = reserved(await l.budgets.reserve("settled", 600_000, 10));
    await settled.settle(10);
    reserved(await l.budgets.reserve("abandoned", 600_000, 10));
    assert.ok((await redis.client.keys(`${prefix}*`)).length >= 22);
    await waitFor("every key to expire", async () => (await redis.client.keys(`${prefix}*`)).length === 0, {
      timeoutMs: 5_000,
    });
  });

  it("charges an unsettled reservation in full, refills it at the budget's rate, and ignores a settle after its expiry", async () => {
    const prefix = `${uniqueName("t")}:`;
    // A replica that dies mid-stream: its reservation is never settled.
    const dying = redisLimits(redis.url, { prefix, reservationTtlMs: 300 });
    reserved(await dying.budgets.reserve("p", 60_000, 3000));
    await dying.budgets.close();
    const l = limits({ prefix, reservationTtlMs: 300 });
    const late = reserved(await l.budgets.reserve("p", 60_000, 1000));
    const full = await l.budgets.reserve("p", 60_000, 60_000);
    assert.ok(full.ok === false && full.retryAfterMs > 3_000 && full.retryAfterMs <= 4_000, JSON.stringify(full));

    await waitFor(
      "the reservations' records to expire",
      async () => (await redis.client.keys(`${prefix}reservation:*`)).length === 0,
      {
        timeoutMs: 5_000,
      },
    );
    await late.settle(0);
    const spent = await l.budgets.reserve("p", 60_000, 60_000);
    assert.equal(spent.ok, false, "a settle after the expiry refunded nothing");
    assert.ok(spent.ok === false && spent.remaining < 58_000, JSON.stringify(spent));
    await waitFor("the budget to be whole again", async () => (await l.budgets.reserve("p", 60_000, 60_000)).ok, {
      timeoutMs: 10_000,
    });
  });

  it("sends a script whole when Redis has forgotten it", async () => {
    const l = limits();
    assert.equal((await l.rate.take("b", { requestsPerSecond: 1, burst: 2 })).remaining, 1);
    await redis.client.script("FLUSH");
    assert.equal((await l.rate.take("b", { requestsPerSecond: 1, burst: 2 })).remaining, 0);
  });
});

describe("gateway limits while Redis is gone", () => {
  it("refuse with a one-line 503 error (fail-closed) or admit (fail-open), and count again once Redis is back", async (t) => {
    const errors: Error[] = [];
    const prefix = `${uniqueName("t")}:`;
    const closed = limits({ prefix, commandTimeoutMs: 500, onError: (err) => errors.push(err) });
    const open = limits({ prefix, commandTimeoutMs: 500, failOpen: true });
    const spec = { requestsPerSecond: 1, burst: 1 };
    assert.equal((await closed.rate.take("b", spec)).allowed, true);
    assert.equal((await open.rate.take("b", spec)).allowed, false, "both count one bucket");
    const stream = reserved(await closed.budgets.reserve("p", 600, 100));

    await redis.kill();
    const started = Date.now();
    const err = await closed.rate.take("b", spec).then(
      () => assert.fail("a decision without Redis was answered"),
      (e: unknown) => e,
    );
    const waited = Date.now() - started;
    assert.ok(err instanceof LimitsUnavailableError, String(err));
    t.diagnostic(`refused after ${waited} ms: ${err.message}`);
    assert.equal(err.status, 503);
    assert.match(
      err.message,
      new RegExp(
        `^limits unavailable: Redis at 127\\.0\\.0\\.1:${redis.port} did not answer \\(.+\\); refusing requests until it does$`,
      ),
    );
    assert.doesNotMatch(err.message, /\n/);
    assert.ok(waited < 3_000, `the refusal took ${waited} ms`);
    await assert.rejects(closed.budgets.reserve("p", 600, 1), LimitsUnavailableError);
    await stream.settle(10);
    assert.ok(
      errors.some((e) => e instanceof LimitsUnavailableError),
      "onError heard the failures",
    );
    const admitted = await open.rate.take("b", spec);
    assert.equal(admitted.allowed, true, "fail-open admits");
    assert.equal((await open.budgets.reserve("p", 600, 100)).ok, true);

    await redis.restart();
    const slow = { requestsPerSecond: 0.01, burst: 1 };
    await waitFor(
      "the fail-closed limits to answer again",
      async () => (await closed.rate.take("again", slow)).allowed,
    );
    assert.equal((await closed.rate.take("again", slow)).allowed, false, "it counts again");
    await waitFor("the fail-open limits to count again", async () => !(await open.rate.take("again", slow)).allowed);
  });

  it("refuse a decision that Redis, hung, does not answer within the command timeout, and answer once it is back", async (t) => {
    const l = limits({ commandTimeoutMs: 500 });
    const spec = { requestsPerSecond: 1, burst: 1 };
    assert.equal((await l.rate.take("b", spec)).allowed, true);
    redis.pause();
    try {
      const started = Date.now();
      const err = await waitFor("the decision to be refused", outcome(l.rate.take("b", spec)), { timeoutMs: 3_000 });
      const waited = Date.now() - started;
      assert.ok(err instanceof LimitsUnavailableError, String(err));
      t.diagnostic(`refused after ${waited} ms: ${err.message}`);
      assert.match(err.message, /did not answer \(Command timed out\)/);
      assert.ok(waited >= 500 && waited < 3_000, `the refusal took ${waited} ms`);
    } finally {
      redis.resume();
    }
    await waitFor("the limits to answer again", () => l.rate.take("b", spec));
  });
});
