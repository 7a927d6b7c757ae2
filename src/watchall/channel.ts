/**
 * An ordered async channel with backpressure: items keep the order of their `put` calls, and a producer that awaits
 * `put` waits while the channel holds `capacity` items or more, so a slow consumer slows its producers, not memory.
 */
export class Channel<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;
  readonly #takers: ((result: IteratorResult<T>) => void)[] = [];
  readonly #waiters: (() => void)[] = [];
  #closed = false;

  constructor(capacity = 1024) {
    this.#capacity = Math.max(1, capacity);
  }

  /** How many items wait to be taken. */
  get size(): number {
    return this.#items.length;
  }

  /** Appends an item at once, then resolves when there is room again; a closed channel drops it. */
  async put(item: T): Promise<void> {
    if (this.#closed) return;
    const taker = this.#takers.shift();
    if (taker) {
      taker({ done: false, value: item });
      return;
    }
    this.#items.push(item);
    while (!this.#closed && this.#items.length > this.#capacity) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Takes the next item; `done` once the channel is closed and drained. */
  take(): Promise<IteratorResult<T>> {
    if (this.#items.length > 0) {
      const value = this.#items.shift() as T;
      if (this.#items.length <= this.#capacity) for (const wake of this.#waiters.splice(0)) wake();
      return Promise.resolve({ done: false, value });
    }
    if (this.#closed) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => this.#takers.push(resolve));
  }

  /** Ends the channel: waiting takers finish at once, waiting producers return, later puts are dropped. */
  close(): void {
    this.#closed = true;
    this.#items.length = 0;
    for (const taker of this.#takers.splice(0)) taker({ done: true, value: undefined });
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
