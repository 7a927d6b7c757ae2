/** A counting semaphore whose waits can be abandoned: it bounds how many kinds list at once. */

/** Gives back a slot; calling it again does nothing. */
export type Release = () => void;

/** Up to `n` holders at once; the others wait in order. */
export class Slots {
  #free: number;
  readonly #waiting: { grant: (release: Release) => void }[] = [];

  constructor(n: number) {
    this.#free = Math.max(1, Math.floor(n));
  }

  /** How many wait for a slot now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  #release(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next.grant(this.#release());
      else this.#free++;
    };
  }

  /** A slot, once one is free; undefined if `signal` aborts first (the wait is then given up, no slot is held). */
  acquire(signal?: AbortSignal): Promise<Release | undefined> {
    if (signal?.aborted) return Promise.resolve(undefined);
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve(this.#release());
    }
    return new Promise((resolve) => {
      const waiter = {
        grant: (release: Release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const i = this.#waiting.indexOf(waiter);
        if (i >= 0) this.#waiting.splice(i, 1);
        resolve(undefined);
      };
      this.#waiting.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }
}
