/** The listing slots: a bound on holders, first come first served, abandoned waits, idempotent release. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Slots } from "../../src/watchall/slots.js";

describe("Slots", () => {
  it("grants up to n at once and the rest in order as slots are released", async () => {
    const slots = new Slots(2);
    const a = await slots.acquire();
    const b = await slots.acquire();
    const order: string[] = [];
    const granted = (name: string) => (release: (() => void) | undefined) => {
      order.push(name);
      return release;
    };
    const c = slots.acquire().then(granted("c"));
    const d = slots.acquire().then(granted("d"));
    assert.equal(slots.waiting, 2);
    a?.();
    a?.(); // releasing twice frees one slot, not two
    const rc = await c;
    assert.deepEqual(order, ["c"]);
    b?.();
    const rd = await d;
    assert.deepEqual(order, ["c", "d"]);
    rc?.();
    rd?.();
    assert.ok(await slots.acquire());
    assert.ok(await slots.acquire());
  });

  it("gives up a wait when its signal aborts, without taking a slot, and skips it on release", async () => {
    const slots = new Slots(1);
    const held = await slots.acquire();
    const controller = new AbortController();
    const abandoned = slots.acquire(controller.signal);
    const next = slots.acquire();
    controller.abort();
    assert.equal(await abandoned, undefined);
    assert.equal(slots.waiting, 1);
    held?.();
    assert.ok(await next);
    assert.equal(await slots.acquire(AbortSignal.abort()), undefined, "an aborted signal never waits");
  });
});
