/** The timer clocks: the manual one's order and cancels, and the system one's longest timer. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock, systemTimerClock } from "../../src/queue/index.js";

describe("timer clocks", () => {
  it("ManualClock fires due timers in time order at their own time, timers they arm too, never cancelled ones", async () => {
    const clock = new ManualClock(1_000);
    const fired: string[] = [];
    clock.setTimer(30, () => fired.push(`b@${clock.now()}`));
    clock.setTimer(10, () => {
      fired.push(`a@${clock.now()}`);
      clock.setTimer(5, () => fired.push(`a2@${clock.now()}`));
    });
    clock.setTimer(20, () => fired.push("cancelled")).cancel();
    clock.setTimer(100, () => fired.push("later"));
    await clock.advance(50);
    assert.deepEqual(fired, ["a@1010", "a2@1015", "b@1030"]);
    assert.equal(clock.now(), 1_050);
    assert.equal(clock.pendingTimers, 1);
  });

  it("the system clock's timer beyond Node's longest waits that longest instead of firing at once", async () => {
    let fired = false;
    const timer = systemTimerClock.setTimer(30 * 24 * 3600 * 1000, () => {
      fired = true;
    });
    // An overflowing timeout fires after 1 ms; 50 ms leave it ample time to show.
    await new Promise((resolve) => setTimeout(resolve, 50));
    timer.cancel();
    assert.equal(fired, false);
  });
});
