/** Prometheus metrics through prom-client, under controller-runtime's and client-go's names. */

export {
  cacheMetrics,
  controllerMetrics,
  controllerRuntimeWorkqueueBuckets,
  type InstrumentOptions,
  instrument,
  type MetricsRegistry,
  reconcileTimeBuckets,
  restClientDurationBuckets,
  transportMetrics,
  workqueueMetrics,
} from "./prometheus.js";
