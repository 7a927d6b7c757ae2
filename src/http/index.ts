/** The transport layer: one connection pool per cluster, rate limits, retries, typed errors. */
export * from "./errors.js";
export { jsonLines } from "./ndjson.js";
export { TokenBucket } from "./ratelimit.js";
export { isOutage, Recovery, type RecoveryOptions, type RecoveryWaitOptions } from "./recovery.js";
export {
  type AttemptEvent,
  type CallEvent,
  type Query,
  type RateLimitStatus,
  type RequestOptions,
  type Response,
  type RetryEvent,
  type StreamResponse,
  type StreamSink,
  Transport,
  type TransportObserver,
  type TransportOptions,
} from "./transport.js";
export { defaultUserAgent } from "./useragent.js";
export { parseWarnings } from "./warnings.js";
