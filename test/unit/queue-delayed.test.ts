/** Delayed adds on a fake clock: due order, moving a key earlier (never later), one timer, shutdown drops them. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock, Workqueue } from "../../src/queue/index.js";

/** The keys pending right now, taken out (and marked done) in order. */
async function drain(q: Workqueue<string>): Promise<string[]> {
  const keys: string[] = [];
  while (q.length > 0) {
    const key = (await q.get()) as string;
    keys.push(key);
    q.done(key);
  }
  return keys;
}

describe("Workqueue delayed adds", () => {
  it("adds each key when its delay has passed, earliest first, under one timer", async () => {
    const clock = new ManualClock();
    const q = new Workqueue<string>({ clock });
    q.addAfter("c", 300);
    q.addAfter("a", 100);
    q.addAfter("b", 200);
    q.addAfter("now", 0);
    assert.equal(clock.pendingTimers, 1, "one timer for the earliest, not one per key");
    assert.equal(q.delayed, 3);
    assert.deepEqual(await drain(q), ["now"]);
    await clock.advance(99);
    assert.deepEqual(await drain(q), []);
    await clock.advance(1);
    assert.deepEqual(await drain(q), ["a"]);
    assert.equal(clock.pendingTimers, 1);
    await clock.advance(250);
    assert.deepEqual(await drain(q), ["b", "c"]);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(q.delayed, 0);
  });

  it("moves a waiting key earlier when it is added again sooner, never later", async () => {
    const clock = new ManualClock();
    const q = new Workqueue<string>({ clock });
    q.addAfter("k", 1_000);
    q.addAfter("other", 500);
    q.addAfter("k", 100);
    assert.equal(q.delayed, 2, "one entry per key");
    await clock.advance(100);
    assert.deepEqual(await drain(q), ["k"]);
    q.addAfter("other", 2_000);
    await clock.advance(400);
    assert.deepEqual(await drain(q), ["other"], "a later add does not push the key back");
    assert.equal(clock.pendingTimers, 0);
  });

  it("keeps the dedup of a plain add when a delayed key falls due while pending or processing", async () => {
    const clock = new ManualClock();
    const q = new Workqueue<string>({ clock });
    q.add("p");
    q.addAfter("p", 10);
    q.addAfter("busy", 10);
    q.add("busy");
    assert.equal(await q.get(), "p");
    assert.equal(await q.get(), "busy");
    await clock.advance(10);
    assert.equal(q.length, 0, "both are being processed: marked dirty, not handed out");
    q.done("p");
    q.done("busy");
    assert.deepEqual(await drain(q), ["p", "busy"]);
  });

  it("drops delayed keys and their timer at shutdown", async () => {
    const clock = new ManualClock();
    const q = new Workqueue<string>({ clock });
    q.addAfter("a", 100);
    q.shutDown();
    q.addAfter("b", 100);
    assert.equal(clock.pendingTimers, 0);
    assert.equal(q.delayed, 0, "nothing held on to");
    await clock.advance(1_000);
    assert.equal(await q.get(), undefined);
  });
});
