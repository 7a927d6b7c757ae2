/** A client-side rate limit: the token bucket client-go uses (`flowcontrol.NewTokenBucketRateLimiter`). */

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/** A token bucket: `qps` tokens a second, at most `burst` saved up; callers wait for a token in FIFO order. */
export class TokenBucket {
  /** Tokens added per second. */
  readonly qps: number;
  /** Most tokens saved up: how many calls may go at once after a quiet spell. */
  readonly burst: number;
  #tokens: number;
  #last: number;
  #off = false;
  #delayed = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #queue: Waiter[] = [];
  readonly #now: () => number;

  /** `now` is a monotonic clock in ms (for tests). */
  constructor(qps: number, burst: number, now: () => number = () => performance.now()) {
    if (!(qps > 0) || !Number.isFinite(qps)) throw new RangeError(`qps must be a positive number, not ${qps}`);
    this.qps = qps;
    this.burst = Math.max(1, Math.floor(burst));
    this.#now = now;
    this.#tokens = this.burst;
    this.#last = now();
  }

  /** Whether {@link disable} was called. */
  get disabled(): boolean {
    return this.#off;
  }

  /** Callers waiting for a token now. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Callers that had to wait for a token so far (as opposed to taking a saved-up one at once). */
  get delayed(): number {
    return this.#delayed;
  }

  /** Turns the limit off for good: every waiting and future caller goes at once. */
  disable(): void {
    this.#off = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const waiter of this.#queue.splice(0)) {
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve();
    }
  }

  /** Resolves when a token is taken; rejects with the signal's reason if it aborts first, even while queued. */
  take(signal?: AbortSignal): Promise<void> {
    if (this.#off) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    this.#refill();
    if (this.#queue.length === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      return Promise.resolve();
    }
    this.#delayed++;
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#queue.indexOf(waiter);
          if (at >= 0) this.#queue.splice(at, 1);
          // The head may have left: whoever is next needs a timer of its own, or none if no one is left.
          this.#reschedule();
          reject(signal?.reason);
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.#queue.push(waiter);
      this.#schedule();
    });
  }

  #refill(): void {
    const now = this.#now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.qps);
    this.#last = now;
  }

  #reschedule(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#schedule();
  }

  /** Hands out the tokens there are, in order, and sets one timer for when the next waiter's token is due. */
  #schedule(): void {
    if (this.#timer !== undefined || this.#off) return;
    this.#refill();
    let head = this.#queue[0];
    while (head && this.#tokens >= 1) {
      this.#tokens -= 1;
      this.#queue.shift();
      head.signal?.removeEventListener("abort", head.onAbort);
      head.resolve();
      head = this.#queue[0];
    }
    if (!head) return;
    const ms = Math.max(1, Math.ceil(((1 - this.#tokens) / this.qps) * 1000));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#schedule();
    }, ms);
  }
}
