/** Exponential backoff with jitter, reset after a healthy spell: retries never spin and never synchronise. */

/** Settings of a backoff (a watcher's, between failed attempts); defaults follow client-go's reflector (800 ms doubling to 30 s, reset after 2 min). */
export interface BackoffOptions {
  /** The first delay, doubled after each failure; default 800 ms. */
  readonly initialMs?: number | undefined;
  /** The longest delay; default 30 s. */
  readonly maxMs?: number | undefined;
  /** A success that lasts this long resets the delay to the initial one. */
  readonly resetAfterMs?: number | undefined;
  /** A number in [0, 1) for the jitter; default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /** Milliseconds since the epoch, to time how long a success has lasted; default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** Tracks consecutive failures and says how long to wait before the next try. */
export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #resetAfter: number;
  readonly #random: () => number;
  readonly #now: () => number;
  #failures = 0;
  #healthySince: number | undefined;

  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialMs ?? 800;
    this.#max = options.maxMs ?? 30_000;
    this.#resetAfter = options.resetAfterMs ?? 120_000;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
  }

  /** Marks the start of a success (e.g. a watch that opened); failures are forgiven once it has lasted long enough. */
  healthy(): void {
    this.#healthySince ??= this.#now();
  }

  /** Records a failure and returns the delay before the next try: half fixed, half random, so peers spread out. */
  next(): number {
    if (this.#healthySince !== undefined && this.#now() - this.#healthySince >= this.#resetAfter) this.#failures = 0;
    this.#healthySince = undefined;
    // The exponent stops growing long after the cap is reached, so that 0 × 2^n never becomes NaN.
    const cap = Math.min(this.#initial * 2 ** Math.min(this.#failures, 64), this.#max);
    this.#failures++;
    return cap / 2 + this.#random() * (cap / 2);
  }

  /** How many failures in a row have been recorded. */
  get failures(): number {
    return this.#failures;
  }
}

/** Waits `ms`, or less if `signal` aborts (then resolves false). */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
