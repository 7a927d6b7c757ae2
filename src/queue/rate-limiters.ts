/**
 * How long a key waits before it is retried: client-go's workqueue rate limiters (per-key exponential backoff, an
 * overall token bucket, the worst of several), composable the same way.
 */
import { systemTimerClock, type TimerClock } from "./clock.js";

/** Decides how long each retry of a key waits; `forget` ends the key's retries (after a success or giving up). */
export interface RateLimiter<K = string> {
  /** The delay in ms before `key` is retried this time; counts the retry. */
  when(key: K): number;
  /** Stops tracking `key`: its next retry starts from the beginning again. */
  forget(key: K): void;
  /** How many retries of `key` were counted since it was last forgotten. */
  numRequeues(key: K): number;
}

/** Options of {@link exponentialRateLimiter}. */
export interface ExponentialRateLimiterOptions {
  /** The first retry's delay (default 5 ms, client-go's controller default). */
  readonly baseMs?: number | undefined;
  /** The longest delay (default 1,000 s). */
  readonly maxMs?: number | undefined;
}

/** Per key, `baseMs * 2^(failures so far)`, at most `maxMs`: client-go's ItemExponentialFailureRateLimiter. */
export function exponentialRateLimiter<K = string>(options: ExponentialRateLimiterOptions = {}): RateLimiter<K> {
  const baseMs = options.baseMs ?? 5;
  const maxMs = options.maxMs ?? 1_000_000;
  if (!(baseMs >= 0) || !(maxMs >= 0)) throw new RangeError(`baseMs and maxMs must be >= 0, not ${baseMs}, ${maxMs}`);
  const failures = new Map<K, number>();
  return {
    when(key) {
      const exp = failures.get(key) ?? 0;
      failures.set(key, exp + 1);
      return Math.min(baseMs * 2 ** exp, maxMs);
    },
    forget: (key) => void failures.delete(key),
    numRequeues: (key) => failures.get(key) ?? 0,
  };
}

/** Options of {@link bucketRateLimiter}. */
export interface BucketRateLimiterOptions {
  /** Tokens added per second (default 10). */
  readonly qps?: number | undefined;
  /** Tokens saved up at most, and at the start (default 100). */
  readonly burst?: number | undefined;
  /** The time source (default the real clock). */
  readonly clock?: TimerClock | undefined;
}

/**
 * One token bucket for all keys, with reserve semantics (golang.org/x/time/rate's `Reserve().Delay()`, as client-go's
 * BucketRateLimiter): every call takes a token at once, possibly one not minted yet, and waits until it is; the Nth call
 * beyond the burst in an instant waits N / qps seconds. Keys are not tracked, so `numRequeues` is always 0.
 */
export function bucketRateLimiter<K = string>(options: BucketRateLimiterOptions = {}): RateLimiter<K> {
  const qps = options.qps ?? 10;
  const burst = options.burst ?? 100;
  const clock = options.clock ?? systemTimerClock;
  if (!(qps > 0) || !Number.isFinite(qps)) throw new RangeError(`qps must be a positive number, not ${qps}`);
  if (!(burst >= 1)) throw new RangeError(`burst must be at least 1, not ${burst}`);
  let tokens = burst;
  let last = clock.now();
  return {
    when() {
      const now = clock.now();
      if (now > last) {
        tokens = Math.min(burst, tokens + ((now - last) / 1000) * qps);
        last = now;
      }
      tokens -= 1;
      return tokens < 0 ? (-tokens / qps) * 1000 : 0;
    },
    forget() {},
    numRequeues: () => 0,
  };
}

/**
 * The longest delay any of `limiters` asks for (each is asked every time, so a bucket spends its token), the most
 * retries any counted; `forget` forgets in all: client-go's MaxOfRateLimiter.
 */
export function maxOfRateLimiters<K = string>(...limiters: readonly RateLimiter<K>[]): RateLimiter<K> {
  return {
    when(key) {
      let delay = 0;
      for (const limiter of limiters) delay = Math.max(delay, limiter.when(key));
      return delay;
    },
    forget(key) {
      for (const limiter of limiters) limiter.forget(key);
    },
    numRequeues(key) {
      let n = 0;
      for (const limiter of limiters) n = Math.max(n, limiter.numRequeues(key));
      return n;
    },
  };
}

/**
 * client-go's DefaultTypedControllerRateLimiter (controller-runtime's default too): the worse of a per-key exponential
 * backoff from 5 ms to 1,000 s and an overall bucket of 10 qps with a burst of 100.
 */
export function defaultControllerRateLimiter<K = string>(clock: TimerClock = systemTimerClock): RateLimiter<K> {
  return maxOfRateLimiters<K>(
    exponentialRateLimiter<K>({ baseMs: 5, maxMs: 1_000_000 }),
    bucketRateLimiter<K>({ qps: 10, burst: 100, clock }),
  );
}
