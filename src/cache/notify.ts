/**
 * Delivery of informer notifications to one handler, at the handler's own pace. A slow handler neither blocks the watch
 * nor the other handlers, and its backlog is bounded by the number of objects, not of events: notifications for a key
 * that the handler has not received yet are merged (two updates become one, an add then a delete cancel out), and at
 * most two are kept per key (a delete followed by the add of a new object under the same name).
 */

/** Where a notification comes from. */
export type Origin = "initial" | "relist" | "resync" | "live";

/** One thing a handler is told. */
export type Notification<T> =
  | { readonly type: "add"; readonly object: T; readonly origin: Origin }
  | { readonly type: "update"; readonly old: T; readonly object: T; readonly origin: Origin }
  | {
      readonly type: "delete";
      readonly object: T;
      readonly origin: Origin;
      /** True when the delete was inferred from a relist: `object` is the last state seen, not the final one. */
      readonly finalStateUnknown: boolean;
    };

/** Merges `next` into what is pending for one key; returns the new pending list (possibly empty). */
export function coalesce<T>(pending: readonly Notification<T>[], next: Notification<T>): Notification<T>[] {
  const last = pending[pending.length - 1];
  if (!last) return [next];
  const before = pending.slice(0, -1);
  if (last.type === "delete") {
    // After a delete, anything but another delete means the name exists again: the handler must be told an add.
    if (next.type === "delete") return [...before, next];
    return [...pending, next.type === "add" ? next : { type: "add", object: next.object, origin: next.origin }];
  }
  // `last` is an add or an update the handler has not seen yet.
  switch (next.type) {
    case "add":
      return [...before, next];
    case "update": {
      if (last.type === "add") return [...before, { type: "add", object: next.object, origin: last.origin }];
      // A resync merged into a real change must not hide it: handlers may skip resyncs.
      const origin = next.origin === "resync" ? last.origin : next.origin;
      return [...before, { type: "update", old: last.old, object: next.object, origin }];
    }
    case "delete":
      // An add the handler never saw needs no delete; an update's delete still must be told.
      return last.type === "add" ? before : [...before, next];
  }
}

function isThenable(value: unknown): value is PromiseLike<void> {
  return typeof (value as PromiseLike<void> | undefined)?.then === "function";
}

/**
 * A queue feeding one handler; call {@link push} for every notification and {@link close} at the end. While
 * {@link pause}d it delivers nothing and keeps what arrives, merged as ever, for {@link resume}.
 */
export class HandlerQueue<T> {
  /** Made when a notification first has to wait: a handler that keeps up never needs one. */
  #pending: Map<string, Notification<T>[]> | undefined;
  readonly #handle: (n: Notification<T>) => void | Promise<void>;
  readonly #onError: (err: unknown, n: Notification<T>) => void;
  #running = false;
  #closed = false;
  #paused = false;
  #idle: (() => void)[] | undefined;

  constructor(
    handle: (n: Notification<T>) => void | Promise<void>,
    onError: (err: unknown, n: Notification<T>) => void,
  ) {
    this.#handle = handle;
    this.#onError = onError;
  }

  /** How many keys have notifications waiting. */
  get backlog(): number {
    return this.#pending?.size ?? 0;
  }

  /** Queues a notification for `key`. */
  push(key: string, n: Notification<T>): void {
    if (this.#closed) return;
    // Nothing pending and the handler free: straight to it, without a detour through the pending map.
    if (!this.#running && !this.#paused) {
      this.#drain(n);
      return;
    }
    this.#pending ??= new Map();
    const pending = this.#pending.get(key);
    const merged = pending ? coalesce(pending, n) : [n];
    // A merged key keeps its place in line, so that one busy object cannot starve the others.
    if (merged.length === 0) this.#pending.delete(key);
    else this.#pending.set(key, merged);
  }

  /**
   * Delivers `first`, then what is pending, in order. Synchronous while the handler returns synchronously (no await
   * per notification for plain handlers); a handler's promise is awaited before the next call.
   */
  #drain(first?: Notification<T>): void {
    this.#running = true;
    let n = first;
    while (!this.#closed && !this.#paused) {
      n ??= this.#take();
      if (!n) break;
      try {
        const result = this.#handle(n);
        if (isThenable(result)) {
          void this.#await(result, n);
          return;
        }
      } catch (err) {
        this.#report(err, n);
      }
      n = undefined;
    }
    this.#running = false;
    const idle = this.#idle;
    this.#idle = undefined;
    for (const resolve of idle ?? []) resolve();
  }

  async #await(result: PromiseLike<void>, n: Notification<T>): Promise<void> {
    try {
      await result;
    } catch (err) {
      this.#report(err, n);
    }
    this.#drain();
  }

  /** The next pending notification: the first key's first. */
  #take(): Notification<T> | undefined {
    const pending = this.#pending;
    for (const [key, list] of pending ?? []) {
      const n = list.shift();
      if (list.length === 0) pending?.delete(key);
      if (n) return n;
    }
    // Once drained the map goes too: a kind whose handler fell behind once would otherwise keep it for good.
    this.#pending = undefined;
    return undefined;
  }

  #report(err: unknown, n: Notification<T>): void {
    try {
      this.#onError(err, n);
    } catch {
      // A failing reporter must not end delivery: the drain loop would stop for good with work still pending.
    }
  }

  /** Resolves once everything queued so far has been handled, or, while paused, once no handler call is in flight. */
  idle(): Promise<void> {
    if (!this.#running && (this.backlog === 0 || this.#paused)) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle ??= [];
      this.#idle.push(resolve);
    });
  }

  /** Stops delivering after the notification in flight; what is pending, and what arrives meanwhile, is kept. */
  pause(): void {
    this.#paused = true;
  }

  /** Delivers again, starting with what was kept while paused. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    // A handler call still in flight goes on to the pending notifications by itself when it returns.
    if (!this.#running) this.#drain();
  }

  /** Drops what is pending and stops delivering. */
  close(): void {
    this.#closed = true;
    this.#pending = undefined;
  }
}
