/** The workqueue: deduplicated keys, never processed twice at once, delayed and rate-limited adds, metrics. */
export { type ClockTimer, ManualClock, systemTimerClock, type TimerClock } from "./clock.js";
export {
  type CounterMetric,
  type GaugeMetric,
  type HistogramMetric,
  noopMetricsProvider,
  type SettableGaugeMetric,
  type WorkqueueMetricsProvider,
  workqueueDurationBuckets,
  workqueueMetricNames,
} from "./metrics.js";
export {
  type BucketRateLimiterOptions,
  bucketRateLimiter,
  defaultControllerRateLimiter,
  type ExponentialRateLimiterOptions,
  exponentialRateLimiter,
  maxOfRateLimiters,
  type RateLimiter,
} from "./rate-limiters.js";
export { type DrainOptions, Workqueue, type WorkqueueOptions } from "./workqueue.js";
