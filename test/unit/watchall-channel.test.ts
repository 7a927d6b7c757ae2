/** The merged stream's channel: order, backpressure on producers, closing with and without an error. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Channel } from "../../src/watchall/channel.js";

/** Whether `promise` has settled after the pending callbacks have run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((r) => setImmediate(r));
  return done;
}

describe("Channel", () => {
  it("hands items out in the order they were put, to takers waiting before and after", async () => {
    const ch = new Channel<number>(10);
    const early = ch.take();
    void ch.put(1);
    void ch.put(2);
    void ch.put(3);
    assert.deepEqual(await early, { done: false, value: 1 });
    assert.deepEqual(await ch.take(), { done: false, value: 2 });
    assert.deepEqual(await ch.take(), { done: false, value: 3 });
    assert.equal(ch.size, 0);
  });

  it("holds producers that await put while it is over capacity, and lets them go as items are taken", async () => {
    const ch = new Channel<number>(2);
    const puts = [1, 2, 3, 4].map((n) => ch.put(n));
    assert.equal(await settled(puts[0] as Promise<void>), true);
    assert.equal(await settled(puts[1] as Promise<void>), true);
    assert.equal(await settled(puts[2] as Promise<void>), false, "the third item is over capacity");
    assert.equal(ch.size, 4, "every item is queued at once, in order; only the producer waits");
    await ch.take();
    assert.equal(await settled(puts[2] as Promise<void>), false, "3 items for a capacity of 2");
    await ch.take();
    assert.equal(await settled(puts[2] as Promise<void>), true);
    assert.equal(await settled(puts[3] as Promise<void>), true);
    assert.deepEqual([(await ch.take()).value, (await ch.take()).value], [3, 4]);
  });

  it("on close ends waiting takers, frees waiting producers, drops queued and later items", async () => {
    const ch = new Channel<number>(1);
    const blocked = [ch.put(1), ch.put(2)];
    ch.close();
    assert.equal(ch.closed, true);
    await Promise.all(blocked);
    assert.deepEqual(await ch.take(), { done: true, value: undefined });
    await ch.put(3);
    assert.equal(ch.size, 0);
    const other = new Channel<number>();
    const waiting = other.take();
    other.close();
    assert.deepEqual(await waiting, { done: true, value: undefined });
  });

  it("closed with an error, rejects waiting and later takers with it; a second close changes nothing", async () => {
    const ch = new Channel<number>();
    const waiting = ch.take();
    const error = new Error("bad checkpoint");
    ch.close(error);
    ch.close();
    await assert.rejects(waiting, error);
    await assert.rejects(ch.take(), error);
  });
});
