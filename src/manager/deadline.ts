/** A timer that never fires before its deadline on the clock it reads. */
import type { ClockTimer, TimerClock } from "../queue/clock.js";

/**
 * Calls `onDue` once `clock.now()` has reached `deadline`. Node's timers count from the event loop's cached time, so
 * one may fire a little before its delay has passed on a fresh reading; this one then waits out the rest.
 */
export function atDeadline(clock: TimerClock, deadline: number, onDue: () => void): ClockTimer {
  let timer: ClockTimer;
  const check = () => {
    const left = deadline - clock.now();
    if (left > 0) timer = clock.setTimer(left, check);
    else onDue();
  };
  timer = clock.setTimer(deadline - clock.now(), check);
  return { cancel: () => timer.cancel() };
}
