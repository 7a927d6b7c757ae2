/** A token bucket: `qps` tokens a second, at most `burst` saved up; callers wait for a token in FIFO order. */
export class TokenBucket {
  readonly #qps: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;
  #tail: Promise<void> = Promise.resolve();
  #off = false;
  readonly #wakers = new Set<() => void>();

  constructor(qps: number, burst: number) {
    this.#qps = qps;
    this.#burst = Math.max(1, burst);
    this.#tokens = this.#burst;
    this.#last = performance.now();
  }

  #refill(): void {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#qps);
    this.#last = now;
  }

  /** Turns the limit off for good: every waiting and future caller goes at once. */
  disable(): void {
    this.#off = true;
    for (const wake of this.#wakers) wake();
  }

  /** Resolves when a token is taken; rejects with the signal's reason if it aborts first. */
  take(signal?: AbortSignal): Promise<void> {
    if (this.#off) return Promise.resolve();
    const turn = this.#tail.then(() => this.#wait(signal));
    // A caller that gives up must not hold up the ones behind it.
    this.#tail = turn.catch(() => {});
    return turn;
  }

  async #wait(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.#off) return;
      this.#refill();
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return;
      }
      const ms = ((1 - this.#tokens) / this.#qps) * 1000;
      await new Promise<void>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          this.#wakers.delete(wake);
          signal?.removeEventListener("abort", onAbort);
        };
        const wake = () => {
          done();
          resolve();
        };
        const onAbort = () => {
          done();
          reject(signal?.reason);
        };
        const timer = setTimeout(wake, ms);
        this.#wakers.add(wake);
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    }
  }
}
