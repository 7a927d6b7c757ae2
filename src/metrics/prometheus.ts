/**
 * Prometheus metrics through prom-client, under the names, labels and buckets of controller-runtime and client-go, so
 * that their dashboards and alerts work unchanged; plus kindwatch's cache sizes. Everything registers into the
 * registry it is given (never prom-client's global one unless that is the one given), so that users add their own
 * metrics to the same `/metrics`. Registering twice into one registry shares the metrics rather than failing.
 */
import {
  Counter,
  Gauge,
  Histogram,
  type OpenMetricsContentType,
  type PrometheusContentType,
  type Registry,
} from "prom-client";
import type { SharedInformerFactory } from "../cache/factory.js";
import { qualifiedName } from "../client/gvr.js";
import type { Controller } from "../controller/controller.js";
import type { ControllerMetrics, ReconcileResultLabel } from "../controller/metrics.js";
import type { Transport } from "../http/transport.js";
import type { WorkqueueMetricsProvider } from "../queue/metrics.js";

/** A prom-client registry, of either exposition format. */
export type MetricsRegistry = Registry<PrometheusContentType> | Registry<OpenMetricsContentType>;

/** controller-runtime's buckets of `controller_runtime_reconcile_time_seconds`: 5 ms to 60 s. */
export const reconcileTimeBuckets: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75,
  2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

/**
 * controller-runtime's buckets of the workqueue's latency and work duration, `ExponentialBuckets(10e-9, 10, 12)`: 10 ns
 * to 1,000 s (client-go's own provider stops at 10 s, see `workqueueDurationBuckets`).
 */
export const controllerRuntimeWorkqueueBuckets: readonly number[] = Array.from({ length: 12 }, (_, i) =>
  Number((1e-8 * 10 ** i).toPrecision(1)),
);

/** client-go's buckets of `rest_client_request_duration_seconds`: 5 ms to 60 s. */
export const restClientDurationBuckets: readonly number[] = [
  0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0,
];

const reconcileResults: readonly ReconcileResultLabel[] = ["success", "error", "requeue", "requeue_after"];

/** A metric's name, help and label names. */
export interface Spec<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
}

/** The metric registered under `spec.name`, made if it is not there yet; another sort under that name is refused. */
export function registered<M>(
  registry: MetricsRegistry,
  spec: Spec<string>,
  sort: abstract new (...args: never[]) => M,
  make: () => M,
): M {
  const existing = registry.getSingleMetric(spec.name);
  if (existing === undefined) return make();
  if (!(existing instanceof sort)) {
    throw new Error(`the registry has a metric ${spec.name} already, of another type than kindwatch registers`);
  }
  return existing;
}

/** A counter in `registry`, shared with one registered before under its name. */
export function counter<L extends string>(registry: MetricsRegistry, spec: Spec<L>): Counter<L> {
  return registered(registry, spec, Counter<L>, () => new Counter({ ...spec, registers: [registry] }));
}

function gauge<L extends string>(registry: MetricsRegistry, spec: Spec<L>): Gauge<L> {
  return registered(registry, spec, Gauge<L>, () => new Gauge({ ...spec, registers: [registry] }));
}

/** A histogram in `registry`, shared with one registered before under its name. */
export function histogram<L extends string>(
  registry: MetricsRegistry,
  spec: Spec<L>,
  buckets: readonly number[],
): Histogram<L> {
  return registered(
    registry,
    spec,
    Histogram<L>,
    () => new Histogram({ ...spec, buckets: [...buckets], registers: [registry] }),
  );
}

/**
 * A workqueue metrics provider registering controller-runtime's `workqueue_*` metrics into `registry`, labelled
 * `name` and `controller` (both the queue's name, as controller-runtime does).
 */
export function workqueueMetrics(registry: MetricsRegistry): WorkqueueMetricsProvider {
  const labelNames = ["name", "controller"] as const;
  const depth = gauge(registry, {
    name: "workqueue_depth",
    help: "Current depth of workqueue",
    labelNames,
  });
  const adds = counter(registry, {
    name: "workqueue_adds_total",
    help: "Total number of adds handled by workqueue",
    labelNames,
  });
  const latency = histogram(
    registry,
    {
      name: "workqueue_queue_duration_seconds",
      help: "How long in seconds an item stays in workqueue before being requested",
      labelNames,
    },
    controllerRuntimeWorkqueueBuckets,
  );
  const workDuration = histogram(
    registry,
    {
      name: "workqueue_work_duration_seconds",
      help: "How long in seconds processing an item from workqueue takes.",
      labelNames,
    },
    controllerRuntimeWorkqueueBuckets,
  );
  const unfinished = gauge(registry, {
    name: "workqueue_unfinished_work_seconds",
    help:
      "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. " +
      "Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at " +
      "which this increases.",
    labelNames,
  });
  const longest = gauge(registry, {
    name: "workqueue_longest_running_processor_seconds",
    help: "How many seconds has the longest running processor for workqueue been running.",
    labelNames,
  });
  const retries = counter(registry, {
    name: "workqueue_retries_total",
    help: "Total number of retries handled by workqueue",
    labelNames,
  });
  // Adding 0 shows a queue's counters and gauges from its start, as Go's WithLabelValues does, without resetting what
  // an earlier queue of the same name counted (a controller runs again after a lost leadership).
  const shown = <M extends { inc(value?: number): void }>(metric: M): M => {
    metric.inc(0);
    return metric;
  };
  return {
    newDepthMetric: (name) => shown(depth.labels(name, name)),
    newAddsMetric: (name) => shown(adds.labels(name, name)),
    newLatencyMetric: (name) => latency.labels(name, name),
    newWorkDurationMetric: (name) => workDuration.labels(name, name),
    newUnfinishedWorkSecondsMetric: (name) => shown(unfinished.labels(name, name)),
    newLongestRunningProcessorSecondsMetric: (name) => shown(longest.labels(name, name)),
    newRetriesMetric: (name) => shown(retries.labels(name, name)),
  };
}

/**
 * Controller metrics registering controller-runtime's `controller_runtime_*` metrics (and, through its `workqueue`,
 * the `workqueue_*` ones) into `registry`; give it as a controller's `metrics` option or to `Controller.observe`.
 *
 * A `PermanentError` counts as controller-runtime counts a `TerminalError`: `result="error"`, one more
 * `controller_runtime_reconcile_errors_total` and one more `controller_runtime_terminal_reconcile_errors_total`.
 * `controller_runtime_reconcile_panics_total` is not registered: a throw is the only way a reconcile fails in
 * JavaScript, and it is counted as an error.
 */
export function controllerMetrics(registry: MetricsRegistry): ControllerMetrics {
  const total = counter(registry, {
    name: "controller_runtime_reconcile_total",
    help: "Total number of reconciliations per controller",
    labelNames: ["controller", "result"],
  });
  const errors = counter(registry, {
    name: "controller_runtime_reconcile_errors_total",
    help: "Total number of reconciliation errors per controller",
    labelNames: ["controller"],
  });
  const terminal = counter(registry, {
    name: "controller_runtime_terminal_reconcile_errors_total",
    help: "Total number of terminal reconciliation errors per controller",
    labelNames: ["controller"],
  });
  const time = histogram(
    registry,
    {
      name: "controller_runtime_reconcile_time_seconds",
      help: "Length of time per reconciliation per controller",
      labelNames: ["controller"],
    },
    reconcileTimeBuckets,
  );
  const workers = gauge(registry, {
    name: "controller_runtime_max_concurrent_reconciles",
    help: "Maximum number of concurrent reconciles per controller",
    labelNames: ["controller"],
  });
  const active = gauge(registry, {
    name: "controller_runtime_active_workers",
    help: "Number of currently used workers per controller",
    labelNames: ["controller"],
  });
  return {
    workqueue: workqueueMetrics(registry),
    started: (controller, count) => {
      for (const result of reconcileResults) total.inc({ controller, result }, 0);
      errors.inc({ controller }, 0);
      terminal.inc({ controller }, 0);
      workers.set({ controller }, count);
      active.set({ controller }, 0);
    },
    activeWorkers: (controller, delta) => active.inc({ controller }, delta),
    reconciled: (controller, outcome) => {
      total.inc({ controller, result: outcome.result });
      if (outcome.result === "error") errors.inc({ controller });
      if (outcome.permanent) terminal.inc({ controller });
      time.observe({ controller }, outcome.seconds);
    },
  };
}

/** client-go's `code` label: the status, or `<error>` when there was no response. */
function codeOf(status: number): string {
  return status === 0 ? "<error>" : String(status);
}

/**
 * Registers client-go's `rest_client_requests_total{code,method,host}` (each attempt, streams included),
 * `rest_client_request_duration_seconds{verb,host}` (each request but streams, from the call to its end, retries
 * included, as client-go measures) and `rest_client_request_retries_total{code,verb,host}` into `registry`, and feeds
 * them from `transport` (also one in use). Returns a function that stops feeding them.
 */
export function transportMetrics(registry: MetricsRegistry, transport: Transport): () => void {
  const requests = counter(registry, {
    name: "rest_client_requests_total",
    help: "Number of HTTP requests, partitioned by status code, method, and host.",
    labelNames: ["code", "method", "host"],
  });
  const duration = histogram(
    registry,
    {
      name: "rest_client_request_duration_seconds",
      help: "Request latency in seconds. Broken down by verb, and host.",
      labelNames: ["verb", "host"],
    },
    restClientDurationBuckets,
  );
  const retries = counter(registry, {
    name: "rest_client_request_retries_total",
    help: "Number of request retries, partitioned by status code, verb, and host.",
    labelNames: ["code", "verb", "host"],
  });
  const host = new URL(transport.config.server).host;
  return transport.observe({
    attempt: (e) => requests.inc({ code: codeOf(e.status), method: e.method, host: e.host }),
    call: (e) => duration.observe({ verb: e.method, host: e.host }, e.seconds),
    retry: (e) => retries.inc({ code: codeOf(e.error.status), verb: e.method, host }),
  });
}

/** The factories whose informers each registry's cache gauges read, at scrape time. */
const cacheSources = new WeakMap<MetricsRegistry, Set<SharedInformerFactory>>();

/**
 * Registers `kindwatch_cache_objects{resource}` and `kindwatch_cache_bytes{resource}` (the estimated compact-JSON size
 * of the objects) into `registry`, read from the informers `factory` holds at each scrape: no timer, and nothing to
 * do as informers come and go. `resource` is kubectl's qualified name (`pods`, `deployments.apps`); informers of one
 * resource (several namespaces or selectors) add up. Returns a function that stops reading `factory`.
 */
export function cacheMetrics(registry: MetricsRegistry, factory: SharedInformerFactory): () => void {
  let sources = cacheSources.get(registry);
  if (!sources) {
    const read = new Set<SharedInformerFactory>();
    sources = read;
    cacheSources.set(registry, read);
    const totals = (which: "objects" | "bytes") => {
      const sums = new Map<string, number>();
      for (const f of read) {
        for (const { request, informer } of f.held()) {
          const resource = qualifiedName(request.gvr);
          sums.set(resource, (sums.get(resource) ?? 0) + informer.status()[which]);
        }
      }
      return sums;
    };
    // Made here rather than through gauge(): a second registration of these names means another owner's, refused.
    new Gauge({
      name: "kindwatch_cache_objects",
      help: "Objects held in the informer caches, per resource.",
      labelNames: ["resource"],
      registers: [registry],
      collect(this: Gauge<"resource">) {
        this.reset();
        for (const [resource, value] of totals("objects")) this.set({ resource }, value);
      },
    });
    new Gauge({
      name: "kindwatch_cache_bytes",
      help: "Estimated size of the objects held in the informer caches as compact JSON, in bytes, per resource.",
      labelNames: ["resource"],
      registers: [registry],
      collect(this: Gauge<"resource">) {
        this.reset();
        for (const [resource, value] of totals("bytes")) this.set({ resource }, value);
      },
    });
  }
  const held = sources;
  held.add(factory);
  return () => held.delete(factory);
}

/** What {@link instrument} instruments. */
export interface InstrumentOptions {
  /** A cluster (a `Cluster` is one): its transport's requests and its shared informers' caches. */
  readonly cluster?: { readonly transport: Transport; readonly informers: SharedInformerFactory } | undefined;
  /** Controllers: their reconciles and workqueues, from their next run on. */
  readonly controllers?: readonly Controller[] | undefined;
}

/**
 * Registers every kindwatch metric into `registry` and feeds it from a cluster and controllers: `rest_client_*` from
 * the cluster's transport, `kindwatch_cache_*` from its informers, `controller_runtime_*` and `workqueue_*` from the
 * controllers. Returns a function that stops feeding them (the metrics stay registered).
 *
 * @example
 * ```ts
 * const registry = new Registry();
 * const stop = instrument(registry, { cluster, controllers: [widgets] });
 * http.createServer(async (_, res) => res.end(await registry.metrics())).listen(8080);
 * ```
 */
export function instrument(registry: MetricsRegistry, options: InstrumentOptions): () => void {
  const removers: (() => void)[] = [];
  if (options.cluster) {
    removers.push(transportMetrics(registry, options.cluster.transport));
    removers.push(cacheMetrics(registry, options.cluster.informers));
  }
  if (options.controllers?.length) {
    const metrics = controllerMetrics(registry);
    for (const c of options.controllers) removers.push(c.observe(metrics));
  }
  return () => {
    for (const remove of removers.splice(0)) remove();
  };
}
