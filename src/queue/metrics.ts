/**
 * What a workqueue reports, in client-go's terms (its `MetricsProvider`): a provider makes one metric of each sort per
 * named queue, so binding it to a Prometheus client is a gauge, counter or histogram per method, labelled by `name`.
 */

/** A value that goes up and down by one (queue depth). */
export interface GaugeMetric {
  /** Adds one. */
  inc(): void;
  /** Takes one away. */
  dec(): void;
}

/** A value set as a whole (seconds of unfinished work). */
export interface SettableGaugeMetric {
  /** Sets the value. */
  set(value: number): void;
}

/** A count that only goes up (adds, retries). */
export interface CounterMetric {
  /** Adds one. */
  inc(): void;
}

/** A distribution of observations, in seconds (queue latency, work duration). */
export interface HistogramMetric {
  /** Records one observation. */
  observe(value: number): void;
}

/**
 * Makes a queue's metrics; `name` is the queue's name (controller-runtime uses the controller's). Each method is called
 * once per queue, when the queue is made.
 */
export interface WorkqueueMetricsProvider {
  /** `workqueue_depth`: keys waiting to be handed out (a key added while it is processed counts from its add). */
  newDepthMetric(name: string): GaugeMetric;
  /** `workqueue_adds_total`: adds that were not already pending. */
  newAddsMetric(name: string): CounterMetric;
  /** `workqueue_queue_duration_seconds`: from a key's first pending add to its hand-out. */
  newLatencyMetric(name: string): HistogramMetric;
  /** `workqueue_work_duration_seconds`: from a key's hand-out to its `done`. */
  newWorkDurationMetric(name: string): HistogramMetric;
  /** `workqueue_unfinished_work_seconds`: the summed age of the keys being processed, refreshed periodically. */
  newUnfinishedWorkSecondsMetric(name: string): SettableGaugeMetric;
  /** `workqueue_longest_running_processor_seconds`: the age of the oldest key being processed, refreshed periodically. */
  newLongestRunningProcessorSecondsMetric(name: string): SettableGaugeMetric;
  /** `workqueue_retries_total`: delayed and rate-limited adds. */
  newRetriesMetric(name: string): CounterMetric;
}

/** The names client-go and controller-runtime register the workqueue metrics under (each labelled `name`). */
export const workqueueMetricNames = {
  depth: "workqueue_depth",
  adds: "workqueue_adds_total",
  latency: "workqueue_queue_duration_seconds",
  workDuration: "workqueue_work_duration_seconds",
  unfinishedWorkSeconds: "workqueue_unfinished_work_seconds",
  longestRunningProcessorSeconds: "workqueue_longest_running_processor_seconds",
  retries: "workqueue_retries_total",
} as const;

/** The histogram buckets client-go uses for latency and work duration: 1e-8 s to 10 s, a factor of 10 apart. */
export const workqueueDurationBuckets: readonly number[] = Array.from({ length: 10 }, (_, i) =>
  Number((1e-8 * 10 ** i).toPrecision(1)),
);

const noop = { inc() {}, dec() {}, set() {}, observe() {} };

/** A provider whose metrics record nothing: the default. */
export const noopMetricsProvider: WorkqueueMetricsProvider = {
  newDepthMetric: () => noop,
  newAddsMetric: () => noop,
  newLatencyMetric: () => noop,
  newWorkDurationMetric: () => noop,
  newUnfinishedWorkSecondsMetric: () => noop,
  newLongestRunningProcessorSecondsMetric: () => noop,
  newRetriesMetric: () => noop,
};
