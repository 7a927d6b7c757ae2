/** The new-kind figures of the watch-all benchmark: reports of child processes turned into per-kind intervals. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { monotonicMs, newKindTimes, Timeline } from "../../bench/support/newkinds.js";

describe("bench new kinds", () => {
  it("takes each report of a child once, the first one winning, and refuses lines that are not reports", () => {
    const t = new Timeline();
    assert.equal(t.take({ group: "a", established: 10 }), true);
    assert.equal(t.take({ group: "a", established: 99 }), true);
    assert.equal(t.take({ group: "a", synced: 30, event: 45 }), true);
    assert.equal(t.take({ ready: true }), false);
    assert.equal(t.take({ group: "a", unknown: 1 }), false);
    assert.equal(t.established.get("a"), 10);
    assert.equal(t.synced.get("a"), 30);
    assert.equal(t.event.get("a"), 45);
  });

  it("measures synced from Established, the event from the create's answer, in the order of the groups", () => {
    const t = new Timeline();
    t.take({ group: "a", established: 100, synced: 120, event: 2150 });
    // The event came before the parent heard the create's answer: a negative interval, kept as it is.
    t.take({ group: "b", established: 500, synced: 1550, event: 2590 });
    const createdAt = new Map([
      ["a", 2140],
      ["b", 2600],
    ]);
    assert.deepEqual(newKindTimes(["b", "a"], t, createdAt), {
      synced: [1050, 20],
      afterCreate: [-10, 10],
      total: [2090, 2050],
      create: [2100, 2040],
    });
  });

  it("fails naming the group and the report that is missing", () => {
    const t = new Timeline();
    t.take({ group: "a", established: 1, event: 3 });
    assert.throws(() => newKindTimes(["a"], t, new Map([["a", 2]])), /no synced time for a/);
    t.take({ group: "a", synced: 2 });
    assert.throws(() => newKindTimes(["a"], t, new Map()), /no created time for a/);
  });

  it("reads one monotonic clock in milliseconds", () => {
    const before = monotonicMs();
    const wall = performance.now();
    while (performance.now() - wall < 5);
    assert.ok(monotonicMs() - before >= 5);
  });
});
