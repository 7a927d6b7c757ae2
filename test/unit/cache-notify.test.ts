/** Coalescing of notifications and the per-handler queue: bounded backlog, order, isolation, idle and close. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { coalesce, HandlerQueue, type Notification } from "../../src/cache/notify.js";
import { waitFor } from "../support/wait.js";

type N = Notification<string>;
const add = (object: string, origin: N["origin"] = "live"): N => ({ type: "add", object, origin });
const update = (old: string, object: string, origin: N["origin"] = "live"): N => ({
  type: "update",
  old,
  object,
  origin,
});
const del = (object: string, finalStateUnknown = false, origin: N["origin"] = "live"): N => ({
  type: "delete",
  object,
  origin,
  finalStateUnknown,
});

/** Pushes notifications one after another into an empty pending list. */
const merge = (...ns: N[]): N[] => ns.reduce<N[]>((pending, n) => coalesce(pending, n), []);

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((r) => {
    open = r;
  });
  return { promise, open };
}

describe("coalesce", () => {
  it("keeps a lone notification", () => {
    for (const n of [add("a"), update("a", "b"), del("a")]) assert.deepEqual(merge(n), [n]);
  });

  it("merges two updates into one from the first old state to the last new one", () => {
    assert.deepEqual(merge(update("v1", "v2"), update("v2", "v3")), [update("v1", "v3")]);
  });

  it("keeps an unseen add an add, with the newest object and the add's origin", () => {
    assert.deepEqual(merge(add("v1", "initial"), update("v1", "v2", "live")), [add("v2", "initial")]);
    assert.deepEqual(merge(add("v1", "initial"), update("v1", "v1", "resync")), [add("v1", "initial")]);
  });

  it("cancels an add the handler never saw with its delete", () => {
    assert.deepEqual(merge(add("v1"), del("v1")), []);
    assert.deepEqual(merge(add("v1"), update("v1", "v2"), update("v2", "v3"), del("v3")), []);
  });

  it("turns an update followed by a delete into the delete", () => {
    assert.deepEqual(merge(update("v1", "v2"), del("v2")), [del("v2")]);
  });

  it("keeps a delete and the add of a new object under the same name, and no more than those two", () => {
    assert.deepEqual(merge(del("old", true), add("new")), [del("old", true), add("new")]);
    assert.deepEqual(merge(del("old"), add("new1"), update("new1", "new2")), [del("old"), add("new2")]);
    assert.deepEqual(merge(del("old"), add("new"), del("new")), [del("old")]);
    assert.deepEqual(merge(update("a", "b"), del("b"), add("c"), update("c", "d"), update("d", "e")), [
      del("b"),
      add("e"),
    ]);
  });

  it("tells an update after a delete as an add, so that the history stays consistent", () => {
    assert.deepEqual(merge(del("old"), update("x", "new")), [del("old"), add("new")]);
  });

  it("never labels a real change as a resync", () => {
    const merged = merge(update("v1", "v2", "live"), update("v2", "v2", "resync"));
    assert.deepEqual(merged, [update("v1", "v2", "live")]);
    assert.deepEqual(merge(update("v1", "v2", "relist"), update("v2", "v2", "resync")), [update("v1", "v2", "relist")]);
    assert.deepEqual(merge(update("v1", "v1", "resync"), update("v1", "v2", "live")), [update("v1", "v2", "live")]);
  });

  it("stays bounded at two per key whatever comes", () => {
    const kinds = [add("x"), update("x", "y"), del("y"), del("z", true), update("y", "y", "resync")];
    let pending: N[] = [];
    let seed = 7;
    for (let i = 0; i < 10_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      pending = coalesce(pending, kinds[seed % kinds.length] as N);
      assert.ok(pending.length <= 2, `pending grew to ${pending.length}`);
      if (pending.length === 2) assert.equal(pending[0]?.type, "delete");
    }
  });

  it("does not change the list it is given", () => {
    const pending = [update("a", "b")];
    coalesce(pending, update("b", "c"));
    assert.deepEqual(pending, [update("a", "b")]);
  });
});

describe("HandlerQueue", () => {
  it("delivers in order: keys in the order they first became pending, a merged key keeping its place", async () => {
    const seen: string[] = [];
    const first = gate();
    const q = new HandlerQueue<string>(
      async (n) => {
        seen.push(`${n.type} ${n.object}`);
        if (seen.length === 1) await first.promise;
      },
      () => assert.fail("no errors expected"),
    );
    q.push("k0", add("k0"));
    q.push("a", add("a1"));
    q.push("b", add("b1"));
    q.push("c", add("c1"));
    q.push("a", update("a1", "a2"));
    q.push("b", del("b1"));
    q.push("d", add("d1"));
    first.open();
    await q.idle();
    assert.deepEqual(seen, ["add k0", "add a2", "add c1", "add d1"]);
  });

  it("keeps a backlog of 10 after 100,000 updates to 10 keys while the handler is blocked", async () => {
    const blocked = gate();
    const seen: N[] = [];
    const q = new HandlerQueue<string>(
      async (n) => {
        seen.push(n);
        if (seen.length === 1) await blocked.promise;
      },
      () => assert.fail("no errors expected"),
    );
    const version: number[] = Array.from({ length: 10 }, () => 0);
    for (let i = 0; i < 100_000; i++) {
      const k = i % 10;
      const before = version[k] ?? 0;
      version[k] = before + 1;
      q.push(`key-${k}`, update(`key-${k}@${before}`, `key-${k}@${before + 1}`));
    }
    assert.equal(q.backlog, 10);
    assert.equal(seen.length, 1, "the handler is still blocked on the first update");
    blocked.open();
    await q.idle();
    assert.equal(q.backlog, 0);
    assert.equal(seen.length, 11, "one update per key after the blocked one");
    assert.deepEqual(seen[0], update("key-0@0", "key-0@1"));
    assert.deepEqual(seen[1], update("key-1@0", "key-1@10000"), "from the first old state to the last new one");
    assert.deepEqual(seen[10], update("key-0@1", "key-0@10000"));
  });

  it("reports a throwing or rejecting handler and goes on with the next notifications", async () => {
    const seen: string[] = [];
    const errors: string[] = [];
    const q = new HandlerQueue<string>(
      (n) => {
        seen.push(n.object);
        if (n.object === "sync-throw") throw new Error("boom");
        if (n.object === "async-reject") return Promise.reject(new Error("bang"));
      },
      (err, n) => errors.push(`${(err as Error).message} on ${n.object}`),
    );
    q.push("a", add("sync-throw"));
    q.push("b", add("async-reject"));
    q.push("c", add("fine"));
    await q.idle();
    assert.deepEqual(seen, ["sync-throw", "async-reject", "fine"]);
    assert.deepEqual(errors, ["boom on sync-throw", "bang on async-reject"]);
  });

  it("survives an error reporter that throws too, without an unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const seen: string[] = [];
      const q = new HandlerQueue<string>(
        async (n) => {
          seen.push(n.object);
          await Promise.resolve();
          throw new Error("handler failed");
        },
        () => {
          throw new Error("reporter failed");
        },
      );
      q.push("a", add("a"));
      q.push("b", add("b"));
      await waitFor("both delivered", () => seen.length === 2, { timeoutMs: 2000 });
      await q.idle();
      q.push("c", add("c"));
      await q.idle();
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(seen, ["a", "b", "c"]);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("keeps a slow handler from delaying another handler's queue", async () => {
    const slowGate = gate();
    const slowSeen: string[] = [];
    const fastSeen: string[] = [];
    const slow = new HandlerQueue<string>(
      async (n) => {
        slowSeen.push(n.object);
        await slowGate.promise;
      },
      () => {},
    );
    const fast = new HandlerQueue<string>(
      (n) => void fastSeen.push(n.object),
      () => {},
    );
    for (let i = 0; i < 100; i++) {
      slow.push(`k${i}`, add(`o${i}`));
      fast.push(`k${i}`, add(`o${i}`));
    }
    await fast.idle();
    assert.equal(fastSeen.length, 100);
    assert.deepEqual(slowSeen, ["o0"]);
    assert.equal(slow.backlog, 99);
    slowGate.open();
    await slow.idle();
    assert.equal(slowSeen.length, 100);
  });

  it("idle() resolves at once when nothing is queued, and waits for the handler in flight", async () => {
    const g = gate();
    let done = 0;
    const q = new HandlerQueue<string>(
      async () => {
        await g.promise;
        done++;
      },
      () => {},
    );
    await q.idle();
    q.push("a", add("a"));
    let idle = false;
    const waiting = q.idle().then(() => {
      idle = true;
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(idle, false);
    g.open();
    await waiting;
    assert.equal(done, 1);
  });

  it("pause() keeps what arrives, merged, without calling the handler again; resume() delivers it in order", async () => {
    const g = gate();
    const seen: string[] = [];
    const q = new HandlerQueue<string>(
      async (n) => {
        seen.push(n.type === "update" ? `${n.old}->${n.object}` : `${n.type} ${n.object}`);
        if (n.object === "a1") await g.promise;
      },
      () => {},
    );
    q.push("a", add("a1"));
    q.pause();
    q.push("a", update("a1", "a2"));
    q.push("b", add("b1"));
    q.push("a", update("a2", "a3"));
    g.open();
    await q.idle();
    assert.deepEqual(seen, ["add a1"], "paused: nothing after the call in flight");
    assert.equal(q.backlog, 2);
    q.resume();
    await q.idle();
    assert.deepEqual(seen, ["add a1", "a1->a3", "add b1"]);
    q.pause();
    q.push("c", add("c1"));
    assert.deepEqual(seen.length, 3, "a paused queue does not call a free handler either");
    q.resume();
    await q.idle();
    assert.deepEqual(seen, ["add a1", "a1->a3", "add b1", "add c1"]);
  });

  it("resume() while the paused handler's call is still in flight waits for it: never two calls at once", async () => {
    const g = gate();
    let inFlight = 0;
    let most = 0;
    const seen: string[] = [];
    const q = new HandlerQueue<string>(
      async (n) => {
        inFlight++;
        most = Math.max(most, inFlight);
        seen.push(n.object);
        if (n.object === "a") await g.promise;
        inFlight--;
      },
      () => {},
    );
    q.push("a", add("a"));
    q.pause();
    q.push("b", add("b"));
    q.resume();
    assert.deepEqual(seen, ["a"]);
    g.open();
    await q.idle();
    assert.deepEqual(seen, ["a", "b"]);
    assert.equal(most, 1);
  });

  it("close() drops what is pending, ignores later pushes, and lets idle() resolve after the handler in flight", async () => {
    const g = gate();
    const seen: string[] = [];
    const q = new HandlerQueue<string>(
      async (n) => {
        seen.push(n.object);
        await g.promise;
      },
      () => {},
    );
    q.push("a", add("a"));
    q.push("b", add("b"));
    q.close();
    q.push("c", add("c"));
    assert.equal(q.backlog, 0);
    const waiting = q.idle();
    g.open();
    await waiting;
    await waitFor("a settled queue", () => q.backlog === 0);
    assert.deepEqual(seen, ["a"]);
  });
});
