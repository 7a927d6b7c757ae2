/**
 * What a controller reports about its reconciles, in controller-runtime's terms, without depending on a metrics
 * library: kindwatch's Prometheus module implements it (`controllerMetrics`), and so can anything else.
 */
import type { GaugeMetric, HistogramMetric, SettableGaugeMetric, WorkqueueMetricsProvider } from "../queue/metrics.js";

/** controller-runtime's `result` label of `controller_runtime_reconcile_total`. */
export type ReconcileResultLabel = "success" | "error" | "requeue" | "requeue_after";

/** One finished reconcile. */
export interface ReconcileOutcome {
  /**
   * "error" when the reconciler threw (a `PermanentError` too, as controller-runtime counts a `TerminalError`),
   * else what its `Result` asked for: "requeue_after" for a delay, "requeue" for a rate-limited retry.
   */
  readonly result: ReconcileResultLabel;
  /** Whether the error was a `PermanentError` (not retried); false for every other result. */
  readonly permanent: boolean;
  /** How long the reconcile function ran, in seconds. */
  readonly seconds: number;
}

/**
 * Hears what a controller does; give it as `ControllerOptions.metrics` or attach it with
 * `Controller.observe`. Its methods run on the reconcile path, so they must be quick; what they throw is ignored.
 */
export interface ControllerMetrics {
  /** The metrics of the controller's workqueue (named after the controller), given to the queue of each run. */
  readonly workqueue?: WorkqueueMetricsProvider | undefined;
  /** A run begins reconciling with `workers` workers (controller-runtime's `max_concurrent_reconciles`). */
  started?(controller: string, workers: number): void;
  /** A worker took a key (+1) or finished with it (-1): controller-runtime's `active_workers`. */
  activeWorkers?(controller: string, delta: 1 | -1): void;
  /** A reconcile finished. */
  reconciled?(controller: string, outcome: ReconcileOutcome): void;
}

/** The observers of one run, as one: each call reaches each of them, and a throw in one reaches no one else. */
export function fanOutControllerMetrics(observers: readonly ControllerMetrics[]): Required<ControllerMetrics> {
  const providers = observers.flatMap((m) => (m.workqueue ? [m.workqueue] : []));
  const each = (call: (m: ControllerMetrics) => void) => {
    for (const m of observers) {
      try {
        call(m);
      } catch {
        // A metrics bug must not stop reconciling.
      }
    }
  };
  return {
    workqueue: providers.length > 1 ? fanOutWorkqueueMetrics(providers) : providers[0],
    started: (controller, workers) => each((m) => m.started?.(controller, workers)),
    activeWorkers: (controller, delta) => each((m) => m.activeWorkers?.(controller, delta)),
    reconciled: (controller, outcome) => each((m) => m.reconciled?.(controller, outcome)),
  };
}

/** One workqueue metrics provider feeding several. */
function fanOutWorkqueueMetrics(providers: readonly WorkqueueMetricsProvider[]): WorkqueueMetricsProvider {
  // Each metric made here is every sort at once, passing on whatever its sort is told.
  const all = (made: readonly Partial<GaugeMetric & SettableGaugeMetric & HistogramMetric>[]) => ({
    inc: () => {
      for (const m of made) m.inc?.();
    },
    dec: () => {
      for (const m of made) m.dec?.();
    },
    set: (value: number) => {
      for (const m of made) m.set?.(value);
    },
    observe: (value: number) => {
      for (const m of made) m.observe?.(value);
    },
  });
  return {
    newDepthMetric: (name) => all(providers.map((p) => p.newDepthMetric(name))),
    newAddsMetric: (name) => all(providers.map((p) => p.newAddsMetric(name))),
    newLatencyMetric: (name) => all(providers.map((p) => p.newLatencyMetric(name))),
    newWorkDurationMetric: (name) => all(providers.map((p) => p.newWorkDurationMetric(name))),
    newUnfinishedWorkSecondsMetric: (name) => all(providers.map((p) => p.newUnfinishedWorkSecondsMetric(name))),
    newLongestRunningProcessorSecondsMetric: (name) =>
      all(providers.map((p) => p.newLongestRunningProcessorSecondsMetric(name))),
    newRetriesMetric: (name) => all(providers.map((p) => p.newRetriesMetric(name))),
  };
}
