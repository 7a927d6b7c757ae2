/** The gateway's limits: request token buckets and LLM token budgets, in memory (one replica) or in Redis (several). */
export { type BudgetState, formatDuration, rateLimitHeaders } from "./headers.js";
export { type MemoryLimitsOptions, memoryLimits } from "./memory.js";
export { type RedisLimitsOptions, redisLimits } from "./redis.js";
export {
  type BudgetDenied,
  type Limits,
  LimitsUnavailableError,
  type RateDecision,
  type RateLimiter,
  type RateLimitSpec,
  type Reservation,
  type TokenBudgets,
} from "./types.js";
