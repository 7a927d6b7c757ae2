/** The workqueue's guarantees: dedup, never a key twice at once, none lost, FIFO, get with a signal, shutdown, drain. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock, Workqueue } from "../../src/queue/index.js";
import { outcome, waitFor } from "../support/wait.js";

/** A queue with no real timers behind it. */
function queue(clock = new ManualClock()) {
  return new Workqueue<string>({ clock });
}

/** Lets other async tasks run for a turn of the event loop. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A deterministic pseudo-random source, so that a failure can be replayed. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("Workqueue", () => {
  it("hands out keys in the order they were first added, each pending key once", async () => {
    const q = queue();
    for (const key of ["a", "b", "a", "c", "b", "a"]) q.add(key);
    assert.equal(q.length, 3);
    assert.deepEqual([await q.get(), await q.get(), await q.get()], ["a", "b", "c"]);
    assert.equal(q.length, 0);
    assert.equal(q.processing, 3);
  });

  it("does not hand out a key being processed, and runs it again after done when it was added meanwhile", async () => {
    const q = queue();
    q.add("a");
    assert.equal(await q.get(), "a");
    q.add("a");
    q.add("a");
    assert.equal(q.length, 0, "a key being processed is not pending");
    let second: string | undefined;
    void q.get().then((key) => {
      second = key;
    });
    await turn();
    assert.equal(second, undefined, "no worker gets the key while another processes it");
    q.done("a");
    await turn();
    assert.equal(second, "a", "the dirty key runs again, once");
    q.done("a");
    assert.equal(q.length, 0);
    assert.equal(q.processing, 0);
  });

  it("ignores a second done, so that a pending key is not queued twice", async () => {
    const q = queue();
    q.add("a");
    assert.equal(await q.get(), "a");
    q.add("a");
    q.done("a");
    q.done("a");
    assert.equal(q.length, 1);
  });

  it("hands a key straight to the worker that waited longest", async () => {
    const q = queue();
    const first = q.get();
    const second = q.get();
    q.add("x");
    q.add("y");
    assert.equal(await first, "x");
    assert.equal(await second, "y");
  });

  it("rejects get when its signal aborts, and takes no key for it", async () => {
    const q = queue();
    const ac = new AbortController();
    const waiting = q.get(ac.signal);
    ac.abort(new Error("stop"));
    await assert.rejects(waiting, /stop/);
    await assert.rejects(q.get(ac.signal), /stop/, "an aborted signal rejects at once");
    q.add("a");
    assert.equal(q.length, 1, "the aborted get did not take the key");
    assert.equal(await q.get(), "a");
  });

  it("keeps its guarantees under 10,000 concurrent adds from 4 producers with 8 workers", async () => {
    const q = queue();
    const rand = random(13);
    const keys = Array.from({ length: 500 }, (_, i) => `ns/obj-${i}`);
    let seq = 0;
    const lastAdd = new Map<string, number>();
    const lastStart = new Map<string, number>();
    const inFlight = new Set<string>();
    const overlaps: string[] = [];
    let processed = 0;
    let addedWhileInFlight = 0;

    const worker = async () => {
      for (let key = await q.get(); key !== undefined; key = await q.get()) {
        if (inFlight.has(key)) overlaps.push(key);
        inFlight.add(key);
        lastStart.set(key, ++seq);
        processed++;
        for (let i = Math.floor(rand() * 3); i > 0; i--) await turn();
        inFlight.delete(key);
        q.done(key);
      }
    };
    const producer = async () => {
      for (let i = 0; i < 2_500; i++) {
        const key = keys[Math.floor(rand() * keys.length)] as string;
        lastAdd.set(key, ++seq);
        if (inFlight.has(key)) addedWhileInFlight++;
        q.add(key);
        if (rand() < 0.3) await turn();
      }
    };

    const workers = Array.from({ length: 8 }, worker);
    await Promise.all(Array.from({ length: 4 }, producer));
    await waitFor("the queue to be idle", () => q.length === 0 && q.processing === 0);
    q.shutDown();
    await Promise.all(workers);

    assert.ok(addedWhileInFlight > 100, `the run added keys being processed (${addedWhileInFlight} times)`);
    assert.deepEqual(overlaps, [], "no key was processed twice at once");
    const lost = [...lastAdd].filter(([key, added]) => (lastStart.get(key) ?? 0) < added).map(([key]) => key);
    assert.deepEqual(lost, [], "every add was followed by a processing of its key that started after it");
    assert.ok(processed <= 10_000, `${processed} processings for 10,000 adds`);
    assert.ok(processed >= lastAdd.size, "every key added was processed");
    assert.equal(inFlight.size, 0);
  });

  it("stops intake at shutdown, hands out what is pending, then undefined", async () => {
    const q = queue();
    const idle = q.get();
    q.add("a");
    assert.equal(await idle, "a");
    q.add("b");
    q.add("c");
    q.shutDown();
    assert.equal(q.shuttingDown, true);
    q.add("d");
    assert.equal(await q.get(), "b");
    assert.equal(await q.get(), "c");
    assert.equal(await q.get(), undefined, "nothing pending is left");
    q.done("a");
    assert.equal(await q.get(), undefined);
  });

  it("resolves waiting workers with undefined at shutdown", async () => {
    const q = queue();
    const waiting = [q.get(), q.get()];
    q.shutDown();
    assert.deepEqual(await Promise.all(waiting), [undefined, undefined]);
  });

  it("drains: shutDownWithDrain resolves true once the keys in flight are done", async () => {
    const q = queue();
    q.add("a");
    q.add("b");
    assert.equal(await q.get(), "a");
    assert.equal(await q.get(), "b");
    const drained = q.shutDownWithDrain();
    const state = outcome(drained);
    q.add("c");
    assert.equal(await q.get(), undefined, "intake stopped, nothing pending");
    q.done("a");
    await turn();
    assert.equal(state(), undefined, "b is still in flight");
    q.done("b");
    assert.equal(await drained, true);
    assert.equal(await q.shutDownWithDrain(), true, "nothing in flight: at once");
  });

  it("gives up draining at the deadline while a key is stuck, and on abort", async () => {
    const clock = new ManualClock();
    const q = queue(clock);
    q.add("stuck");
    assert.equal(await q.get(), "stuck");
    const drained = q.shutDownWithDrain({ deadlineMs: 5_000 });
    const state = outcome(drained);
    await clock.advance(4_999);
    assert.equal(state(), undefined, "still waiting before the deadline");
    await clock.advance(1);
    assert.equal(await drained, false);
    assert.equal(q.processing, 1);

    const ac = new AbortController();
    const aborted = q.shutDownWithDrain({ signal: ac.signal });
    ac.abort();
    assert.equal(await aborted, false);
    const stopped = q.shutDownWithDrain();
    q.shutDown();
    assert.equal(await stopped, false, "shutDown ends a drain");
    assert.equal(clock.pendingTimers, 0, "no timer left behind");
  });
});
