/**
 * An ordered async channel with backpressure: items keep the order of their `put` calls, and a producer that awaits
 * `put` waits while the channel holds `capacity` items or more, so a slow consumer slows its producers, not memory.
 */
export class Channel<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  readonly #takers: { resolve: (result: IteratorResult<T>) => void; reject: (err: unknown) => void }[] = [];
  readonly #waiters: (() => void)[] = [];
  #closed = false;
  #error: unknown;

  constructor(capacity = 1024) {
    this.#capacity = Math.max(1, capacity);
  }

  /** How many items wait to be taken. */
  get size(): number {
    return this.#items.length;
  }

  /** Whether the channel has been closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Appends an item at once, then resolves when there is room again; a closed channel drops it. */
  async put(item: T): Promise<void> {
    if (this.#closed) return;
    const taker = this.#takers.shift();
    if (taker) {
      taker.resolve({ done: false, value: item });
      return;
    }
    this.#items.push(item);
    while (!this.#closed && this.#items.length > this.#capacity) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Takes the next item; `done` once the channel is closed; rejects if it was closed with an error. */
  take(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) {
      const value = this.#items.shift() as T;
      if (this.#items.length <= this.#capacity) for (const wake of this.#waiters.splice(0)) wake();
      return Promise.resolve({ done: false, value });
    }
    if (this.#closed) {
      return this.#error === undefined
        ? Promise.resolve({ done: true, value: undefined })
        : Promise.reject(this.#error);
    }
    return new Promise((resolve, reject) => this.#takers.push({ resolve, reject }));
  }

  /**
   * Ends the channel: items not taken are dropped, waiting takers finish at once (rejected with `error` if given),
   * waiting producers return, later puts are dropped.
   */
  close(error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = error;
    this.#items.length = 0;
    for (const taker of this.#takers.splice(0)) {
      if (error === undefined) taker.resolve({ done: true, value: undefined });
      else taker.reject(error);
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
