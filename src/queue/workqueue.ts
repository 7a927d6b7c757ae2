/**
 * The workqueue controllers feed keys into and workers take keys from, with client-go's guarantees (`util/workqueue`):
 * a key pending several times is handed out once; a key is never handed out while it is being processed (added
 * meanwhile, it is marked dirty and queued again at its `done`); keys come out in the order they were first added.
 * Delayed adds wait on a heap under one timer; rate-limited adds ask a {@link RateLimiter} for the delay.
 */
import { type ClockTimer, systemTimerClock, type TimerClock } from "./clock.js";
import type {
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  SettableGaugeMetric,
  WorkqueueMetricsProvider,
} from "./metrics.js";
import { defaultControllerRateLimiter, type RateLimiter } from "./rate-limiters.js";

/** Options of a {@link Workqueue}. */
export interface WorkqueueOptions<K> {
  /** The queue's name, passed to the metrics provider (controller-runtime names a queue after its controller). */
  readonly name?: string | undefined;
  /** The time source of delays, rate limits and metrics (default the real clock; tests pass a `ManualClock`). */
  readonly clock?: TimerClock | undefined;
  /** Decides `addRateLimited`'s delays (default {@link defaultControllerRateLimiter} on the queue's clock). */
  readonly rateLimiter?: RateLimiter<K> | undefined;
  /** Where the queue's metrics go (default: nowhere). */
  readonly metrics?: WorkqueueMetricsProvider | undefined;
  /** How often the unfinished-work gauges are refreshed, in ms (default 500, client-go's period). */
  readonly unfinishedWorkUpdateMs?: number | undefined;
}

/** Options of {@link Workqueue.shutDownWithDrain}. */
export interface DrainOptions {
  /** Gives up waiting after this many ms (on the queue's clock). */
  readonly deadlineMs?: number | undefined;
  /** Gives up waiting when this aborts. */
  readonly signal?: AbortSignal | undefined;
}

interface Waiter<K> {
  readonly resolve: (key: K | undefined) => void;
  readonly reject: (reason: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

interface Delayed<K> {
  readonly key: K;
  readyAt: number;
  index: number;
}

/** client-go's defaultQueueMetrics: add and hand-out times per key feed the latency and work-duration histograms. */
class QueueMetrics<K> {
  readonly #clock: TimerClock;
  readonly #depth: GaugeMetric;
  readonly #adds: CounterMetric;
  readonly #latency: HistogramMetric;
  readonly #workDuration: HistogramMetric;
  readonly #unfinished: SettableGaugeMetric;
  readonly #longest: SettableGaugeMetric;
  readonly retries: CounterMetric;
  readonly #addTimes = new Map<K, number>();
  readonly #startTimes = new Map<K, number>();

  constructor(provider: WorkqueueMetricsProvider, name: string, clock: TimerClock) {
    this.#clock = clock;
    this.#depth = provider.newDepthMetric(name);
    this.#adds = provider.newAddsMetric(name);
    this.#latency = provider.newLatencyMetric(name);
    this.#workDuration = provider.newWorkDurationMetric(name);
    this.#unfinished = provider.newUnfinishedWorkSecondsMetric(name);
    this.#longest = provider.newLongestRunningProcessorSecondsMetric(name);
    this.retries = provider.newRetriesMetric(name);
  }

  add(key: K): void {
    this.#adds.inc();
    this.#depth.inc();
    if (!this.#addTimes.has(key)) this.#addTimes.set(key, this.#clock.now());
  }

  get(key: K): void {
    this.#depth.dec();
    const now = this.#clock.now();
    this.#startTimes.set(key, now);
    const added = this.#addTimes.get(key);
    if (added !== undefined) {
      this.#latency.observe((now - added) / 1000);
      this.#addTimes.delete(key);
    }
  }

  done(key: K): void {
    const started = this.#startTimes.get(key);
    if (started === undefined) return;
    this.#workDuration.observe((this.#clock.now() - started) / 1000);
    this.#startTimes.delete(key);
  }

  updateUnfinishedWork(): void {
    const now = this.#clock.now();
    let total = 0;
    let oldest = 0;
    for (const started of this.#startTimes.values()) {
      const age = (now - started) / 1000;
      total += age;
      oldest = Math.max(oldest, age);
    }
    this.#unfinished.set(total);
    this.#longest.set(oldest);
  }
}

/**
 * A work queue of keys (strings by default; other keys compare by identity, as in a `Set`). Producers `add`; workers
 * loop on `await get()` and call `done(key)` when they finish each key, whatever the outcome. `get` resolves
 * `undefined` once the queue is shut down and nothing is left pending.
 *
 * @example
 * ```ts
 * const queue = new Workqueue();
 * queue.add("default/web");
 * for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
 *   try { await reconcile(key); queue.forget(key); } catch { queue.addRateLimited(key); } finally { queue.done(key); }
 * }
 * ```
 */
export class Workqueue<K = string> {
  readonly #clock: TimerClock;
  readonly #rateLimiter: RateLimiter<K>;
  readonly #metrics: QueueMetrics<K> | undefined;
  // Pending keys in order: #queue[#head..] (a head index, so that taking the first key is O(1)).
  #queue: K[] = [];
  #head = 0;
  readonly #dirty = new Set<K>();
  readonly #processing = new Set<K>();
  readonly #waiters: Waiter<K>[] = [];
  #drainers: (() => void)[] = [];
  #shuttingDown = false;
  // Delayed adds: a min-heap on readyAt, an entry per key, and one timer for the earliest.
  #heap: Delayed<K>[] = [];
  readonly #delayed = new Map<K, Delayed<K>>();
  #timer: ClockTimer | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #metricsTimer: ClockTimer | undefined;

  /** Makes an empty queue. */
  constructor(options: WorkqueueOptions<K> = {}) {
    this.#clock = options.clock ?? systemTimerClock;
    this.#rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter<K>(this.#clock);
    if (options.metrics) {
      this.#metrics = new QueueMetrics<K>(options.metrics, options.name ?? "", this.#clock);
      const period = options.unfinishedWorkUpdateMs ?? 500;
      const tick = () => {
        this.#metrics?.updateUnfinishedWork();
        this.#metricsTimer = this.#clock.setTimer(period, tick, false);
      };
      this.#metricsTimer = this.#clock.setTimer(period, tick, false);
    }
  }

  /** Keys pending (queued and not handed out yet); delayed keys not yet due are not counted. */
  get length(): number {
    return this.#queue.length - this.#head;
  }

  /** Keys handed out and not `done` yet. */
  get processing(): number {
    return this.#processing.size;
  }

  /** Keys waiting for their delay to pass. */
  get delayed(): number {
    return this.#heap.length;
  }

  /** Whether `shutDown` or `shutDownWithDrain` was called: adds are ignored from then on. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Queues `key`, unless it is pending already (then nothing changes) or the queue is shutting down. A key being
   * processed is marked dirty and queued again at its `done`.
   */
  add(key: K): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#metrics?.add(key);
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /**
   * Adds `key` once `ms` have passed (at once if `ms <= 0`). A key already waiting keeps the earlier of its two times.
   * Counted as a retry in the metrics.
   */
  addAfter(key: K, ms: number): void {
    if (this.#shuttingDown) return;
    this.#metrics?.retries.inc();
    if (!(ms > 0)) {
      this.add(key);
      return;
    }
    const readyAt = this.#clock.now() + ms;
    const existing = this.#delayed.get(key);
    if (existing) {
      if (readyAt >= existing.readyAt) return;
      existing.readyAt = readyAt;
      this.#siftUp(existing.index);
    } else {
      const entry: Delayed<K> = { key, readyAt, index: this.#heap.length };
      this.#heap.push(entry);
      this.#delayed.set(key, entry);
      this.#siftUp(entry.index);
    }
    this.#arm();
  }

  /** Adds `key` after the delay the rate limiter gives it (counting one more retry of it). */
  addRateLimited(key: K): void {
    if (this.#shuttingDown) return;
    this.addAfter(key, this.#rateLimiter.when(key));
  }

  /** Ends `key`'s retries in the rate limiter (call it when the key succeeded or is given up). */
  forget(key: K): void {
    this.#rateLimiter.forget(key);
  }

  /** How many rate-limited retries of `key` were counted since it was last forgotten. */
  numRequeues(key: K): number {
    return this.#rateLimiter.numRequeues(key);
  }

  /**
   * The next key to process, which the caller owns until it calls `done(key)`; waits while none is pending. Resolves
   * `undefined` once the queue is shut down and nothing is pending; rejects with the signal's reason if it aborts
   * first (no key is taken then).
   */
  get(signal?: AbortSignal): Promise<K | undefined> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#head < this.#queue.length) return Promise.resolve(this.#take(this.#pop()));
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise<K | undefined>((resolve, reject) => {
      const waiter: Waiter<K> = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const at = this.#waiters.indexOf(waiter);
          if (at >= 0) this.#waiters.splice(at, 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /**
   * Marks `key` processed. If it was added while processed, it is queued again now. A key that is not being processed
   * is ignored (a second `done` must not queue a pending key twice).
   */
  done(key: K): void {
    if (!this.#processing.delete(key)) return;
    this.#metrics?.done(key);
    if (this.#dirty.has(key)) this.#push(key);
    else if (this.#processing.size === 0) this.#wakeDrainers();
  }

  /**
   * Stops intake at once: adds are ignored, delayed keys dropped, and `get` hands out what is pending, then
   * `undefined`. Keys in flight may still be `done`; a pending `shutDownWithDrain` stops waiting.
   */
  shutDown(): void {
    this.#stopIntake();
    this.#wakeDrainers();
  }

  /**
   * Shuts down as {@link Workqueue.shutDown} does, then waits until every key handed out is `done`. Resolves `true` once none is
   * in flight, `false` if the deadline passed, the signal aborted or `shutDown` was called first.
   */
  shutDownWithDrain(options: DrainOptions = {}): Promise<boolean> {
    this.#stopIntake();
    if (this.#processing.size === 0) return Promise.resolve(true);
    const { deadlineMs, signal } = options;
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      let deadline: ClockTimer | undefined;
      const finish = () => {
        deadline?.cancel();
        signal?.removeEventListener("abort", finish);
        this.#drainers = this.#drainers.filter((d) => d !== finish);
        resolve(this.#processing.size === 0);
      };
      this.#drainers.push(finish);
      signal?.addEventListener("abort", finish, { once: true });
      if (deadlineMs !== undefined) deadline = this.#clock.setTimer(deadlineMs, finish);
    });
  }

  #stopIntake(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    this.#heap = [];
    this.#delayed.clear();
    this.#metricsTimer?.cancel();
    this.#metricsTimer = undefined;
    // Waiters exist only while nothing is pending, so there is nothing left for them.
    for (const waiter of this.#waiters.splice(0)) {
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(undefined);
    }
  }

  #wakeDrainers(): void {
    for (const drainer of [...this.#drainers]) drainer();
  }

  /** Queues a dirty key that is not processed, or hands it straight to the longest-waiting worker. */
  #push(key: K): void {
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      waiter.resolve(this.#take(key));
      return;
    }
    this.#queue.push(key);
  }

  #pop(): K {
    const key = this.#queue[this.#head] as K;
    this.#head++;
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return key;
  }

  /** Moves `key` from pending to processing. */
  #take(key: K): K {
    this.#metrics?.get(key);
    this.#processing.add(key);
    this.#dirty.delete(key);
    return key;
  }

  /** Keeps the one timer set for the earliest delayed key. */
  #arm(): void {
    const first = this.#heap[0];
    const at = first ? first.readyAt : Number.POSITIVE_INFINITY;
    if (at === this.#timerAt) return;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#timerAt = at;
    if (first) this.#timer = this.#clock.setTimer(at - this.#clock.now(), () => this.#fire());
  }

  #fire(): void {
    this.#timer = undefined;
    this.#timerAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    for (let first = this.#heap[0]; first && first.readyAt <= now; first = this.#heap[0]) {
      this.#removeFirst();
      this.#delayed.delete(first.key);
      this.add(first.key);
    }
    this.#arm();
  }

  #removeFirst(): void {
    const last = this.#heap.pop() as Delayed<K>;
    if (this.#heap.length === 0) return;
    last.index = 0;
    this.#heap[0] = last;
    this.#siftDown(0);
  }

  #siftUp(i: number): void {
    const heap = this.#heap;
    const entry = heap[i] as Delayed<K>;
    while (i > 0) {
      const parentAt = (i - 1) >> 1;
      const parent = heap[parentAt] as Delayed<K>;
      if (parent.readyAt <= entry.readyAt) break;
      heap[i] = parent;
      parent.index = i;
      i = parentAt;
    }
    heap[i] = entry;
    entry.index = i;
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    const entry = heap[i] as Delayed<K>;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && (heap[right] as Delayed<K>).readyAt < (heap[left] as Delayed<K>).readyAt ? right : left;
      const smaller = heap[child] as Delayed<K>;
      if (smaller.readyAt >= entry.readyAt) break;
      heap[i] = smaller;
      smaller.index = i;
      i = child;
    }
    heap[i] = entry;
    entry.index = i;
  }
}
