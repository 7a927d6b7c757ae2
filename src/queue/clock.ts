/** Time for the workqueue and its rate limiters: the real one, or one a test moves by hand. */

/** A timer that a {@link TimerClock} armed; cancelling it after it fired does nothing. */
export interface ClockTimer {
  /** Stops the timer from firing. */
  cancel(): void;
}

/** A monotonic time source in milliseconds and one-shot timers on it. */
export interface TimerClock {
  /** Milliseconds on a monotonic scale (only differences mean something). */
  now(): number;
  /**
   * Calls `fn` once `ms` have passed. `keepAlive: false` lets the process exit while the timer is pending (for
   * periodic bookkeeping that must not hold a process up).
   */
  setTimer(ms: number, fn: () => void, keepAlive?: boolean): ClockTimer;
}

/** Node fires a timer set beyond this after 1 ms instead (a 32-bit signed count of ms). */
const longestTimeoutMs = 2 ** 31 - 1;

/**
 * The process's clock: `performance.now()` and Node's timers. A timer longer than Node's longest fires at that longest
 * (about 24.8 days): callers that must not act early check the time when it fires, as the workqueue does.
 */
export const systemTimerClock: TimerClock = {
  now: () => performance.now(),
  setTimer(ms, fn, keepAlive = true) {
    const timer = setTimeout(fn, Math.min(longestTimeoutMs, Math.max(0, ms)));
    if (!keepAlive) timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};

interface ManualTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told ({@link ManualClock.advance}), firing its due timers in time order: for tests of
 * anything that takes a {@link TimerClock}.
 */
export class ManualClock implements TimerClock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  /** Starts at `startMs`. */
  constructor(startMs = 0) {
    this.#now = startMs;
  }

  /** The current time. */
  now(): number {
    return this.#now;
  }

  /** Timers armed and neither fired nor cancelled yet. */
  get pendingTimers(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /** Arms a timer; `keepAlive` means nothing here. */
  setTimer(ms: number, fn: () => void): ClockTimer {
    const timer: ManualTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way at its own time (a timer armed by
   * another's callback fires too, if due), then lets the promises those callbacks resolved run their continuations.
   */
  async advance(ms: number): Promise<void> {
    const until = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => !t.cancelled);
      let next: ManualTimer | undefined;
      for (const t of this.#timers) {
        if (t.at <= until && (!next || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t;
      }
      if (!next) break;
      this.#now = Math.max(this.#now, next.at);
      next.cancelled = true;
      next.fn();
      await settle();
    }
    this.#now = until;
    await settle();
  }
}

/** Lets queued promise continuations run: a few turns of the microtask queue and one of the event loop. */
async function settle(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}
