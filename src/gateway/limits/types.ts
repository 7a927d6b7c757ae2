/** The limits' contract with the gateway's core (GATEWAY.md): request token buckets and LLM token budgets. */

/** A token bucket's shape: refills at `requestsPerSecond`, holds at most `burst` (at least 1). */
export interface RateLimitSpec {
  requestsPerSecond: number;
  burst: number;
}

/** Request rate: a token bucket per key (route name, or route+key id), exact across replicas when shared. */
export interface RateLimiter {
  /** Takes one request from `bucket`; `now` (ms) stands in for the clock in memory and is ignored by Redis. */
  take(bucket: string, spec: RateLimitSpec, now?: number): Promise<RateDecision>;
  /** Releases the limiter's resources (the Redis connection). */
  close(): Promise<void>;
}

/** One request's admission: `limit` is the bucket's capacity (its burst), `resetMs` the time until it is full again. */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetMs: number;
  /** 0 when allowed; otherwise the time until one request fits. */
  retryAfterMs: number;
}

/** LLM tokens per minute: reserve at admission, settle with the real count when the answer ends. */
export interface TokenBudgets {
  /**
   * Reserves `tokens` (the prompt's count plus `max_tokens` or the profile's cap) from `budget` before the upstream is
   * called, so that concurrent streams cannot overrun it. A reservation larger than the whole budget is clamped to it
   * (admitted when the budget is full; its over-use is charged at settle). `now` as for {@link RateLimiter.take}.
   */
  reserve(budget: string, tokensPerMinute: number, tokens: number, now?: number): Promise<Reservation | BudgetDenied>;
  /** Releases the budgets' resources (the Redis connection). */
  close(): Promise<void>;
}

/** An admitted reservation; `limit`, `remaining` and `resetMs` describe the budget after it was taken. */
export interface Reservation {
  ok: true;
  id: string;
  limit: number;
  remaining: number;
  resetMs: number;
  /**
   * Ends the reservation with the tokens really used: the unused part is refunded, over-use is charged. Only the first
   * call counts; a settle after the reservation expired (see `reservationTtlMs`) changes nothing; an unreachable store does not make it reject.
   */
  settle(usedTokens: number): Promise<void>;
}

/** A refused reservation: the budget cannot hold it before `retryAfterMs`. */
export interface BudgetDenied {
  ok: false;
  limit: number;
  remaining: number;
  resetMs: number;
  retryAfterMs: number;
}

/** Both halves of a limits backend, sharing one store. */
export interface Limits {
  rate: RateLimiter;
  budgets: TokenBudgets;
}

/**
 * The shared limits store cannot be reached: the core answers `503` (fail-closed, the default) rather than admit
 * requests no replica can count.
 */
export class LimitsUnavailableError extends Error {
  /** The HTTP status the core answers with. */
  readonly status = 503;
  /** The OpenAI-format error code. */
  readonly code = "limits_unavailable";
  override readonly name = "LimitsUnavailableError";
}
