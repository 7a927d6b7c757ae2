/**
 * The reconcile loop: watched changes become keys of the primary kind in a workqueue, and workers reconcile each key
 * from the informer caches, retrying failures with backoff. controller-runtime's shape (`for`, `owns`, `watches`,
 * `Result{RequeueAfter}`), composed like kube-rs's `Controller`, for any kind found at run time; `watchesAll` feeds it
 * every kind through the watch-all engine. Reconciles and the changes that queue them are traced with OpenTelemetry
 * when an SDK is registered.
 */
import { randomUUID } from "node:crypto";
import type { TracerProvider } from "@opentelemetry/api";
import type { InformerLease, SharedInformerFactory } from "../cache/factory.js";
import type { EventHandlers } from "../cache/informer.js";
import { failureFields, type Logger, type LoggerOption, loggerOf } from "../cache/log.js";
import type { Origin } from "../cache/notify.js";
import type { Store } from "../cache/store.js";
import { formatGvr, type GroupVersionResource, parseApiVersion, type ResourceType } from "../client/gvr.js";
import type { PatchOptions } from "../client/options.js";
import type { ApplyObject, DynamicClient, ResourceClient } from "../client/resource.js";
import type { RestMapper } from "../discovery/mapper.js";
import { Tracing } from "../http/tracing.js";
import type { KubeObject } from "../object/types.js";
import type { RateLimiter } from "../queue/rate-limiters.js";
import { Workqueue } from "../queue/workqueue.js";
import { type WatchAll, type WatchAllOptions, watchAll } from "../watchall/engine.js";
import type { KindInfo, ObjectEvent } from "../watchall/types.js";
import type { EventRecorder } from "./events.js";
import { type ControllerMetrics, fanOutControllerMetrics, type ReconcileOutcome } from "./metrics.js";
import { setControllerReference } from "./owner.js";
import type { Predicate } from "./predicates.js";
import { PermanentError, type Request, type Result, requestFor, requestKey, requestOf } from "./result.js";
import { ControllerTracing } from "./tracing.js";

/** What a controller needs of a cluster: a `Cluster` is one. */
export interface ControllerCluster {
  readonly client: DynamicClient;
  readonly informers: SharedInformerFactory;
  /** Finds the kind of a primary given as a bare GroupVersionResource (an `ApiResource` carries it already). */
  readonly mapper?: RestMapper | undefined;
}

/** Options of {@link controller}. */
export interface ControllerOptions {
  /** The controller's name, in logs and as the workqueue's name. */
  readonly name: string;
  /** How many keys are reconciled at once (default 1); one key never runs twice at once. */
  readonly concurrency?: number | undefined;
  /** Watch one namespace only (default all namespaces). */
  readonly namespace?: string | undefined;
  /** The delays of retries after failures (default the workqueue's, client-go's controller default). */
  readonly rateLimiter?: RateLimiter<string> | undefined;
  /** Where Warning Events about permanent errors go; none are recorded without one. */
  readonly recorder?: EventRecorder | undefined;
  /** How long shutdown waits for reconciles in flight before aborting their signal (default 30 s). */
  readonly drainTimeoutMs?: number | undefined;
  /** Where failed reconciles are logged (default warnings and errors to stderr; "none" for silence). */
  readonly logger?: LoggerOption | undefined;
  /** Where reconcile outcomes, durations, active workers and workqueue metrics go (more with `observe`). */
  readonly metrics?: ControllerMetrics | undefined;
  /**
   * The field manager of {@link ReconcileContext.apply} (controller-runtime's `client.FieldOwner`): the name the
   * server records in `managedFields` for the fields this controller applies. Default the controller's name.
   */
  readonly fieldManager?: string | undefined;
  /**
   * Where the spans of reconciles and of the changes that queue them go (OpenTelemetry); default the global provider,
   * so that they are recorded once an SDK is registered and cost nothing before.
   */
  readonly tracerProvider?: TracerProvider | undefined;
}

/** Options of a watched resource. */
export interface SourceOptions<T extends KubeObject> {
  /** Every one must pass a change for it to enqueue anything. */
  readonly predicates?: readonly Predicate<T>[] | undefined;
}

/**
 * Options of {@link ControllerBuilder.watchesAll}: the watch-all engine's selection (kinds, namespaces, selectors,
 * metadata only) and the predicates a change must pass. The engine's namespaces default to the controller's
 * namespace; checkpoints are left out, as a controller lists everything again when it starts.
 */
export interface WatchesAllOptions
  extends Omit<WatchAllOptions, "checkpoint" | "checkpointEveryMs">,
    SourceOptions<KubeObject> {}

/** Options of {@link ReconcileContext.apply}: those of a patch (no field manager: the controller's), and an owner. */
export interface ReconcileApplyOptions extends Omit<PatchOptions, "fieldManager"> {
  /**
   * Take over fields another manager owns instead of failing with a Conflict; default true, as a controller owns the
   * fields it applies (controller-runtime's `client.ForceOwnership`). false to fail on conflicts instead.
   */
  readonly force?: boolean | undefined;
  /**
   * Makes this object the applied object's controller (an owner reference with `controller: true`, see
   * `setControllerReference`) before it is sent, and its namespace the object's when the object names none.
   */
  readonly owner?: KubeObject | undefined;
}

/** What a reconcile is given besides its request. */
export interface ReconcileContext<T extends KubeObject> {
  /** The primary named by `req` as the cache holds it; undefined once it is gone. */
  get(req: Request): T | undefined;
  /**
   * The cache of a resource this controller watches (`for`, `owns` or `watches`). Kinds seen through `watchesAll`
   * have none here (the engine's informers are its own and come and go with the kinds): read them with `client`.
   */
  cache<U extends KubeObject = KubeObject>(gvr: GroupVersionResource): Store<U>;
  /**
   * Server-side apply of `obj` with the controller's field manager ({@link ControllerOptions.fieldManager}), forcing
   * conflicts unless `force: false`: the controller owns the fields it applies. Applying what the object already has
   * changes nothing on the server (same resourceVersion). The resource is found from `apiVersion` and `kind` through
   * the cluster's mapper. With `owner`, the object is made the owner's controlled object first.
   */
  apply<U extends KubeObject = KubeObject>(obj: ApplyObject<U>, options?: ReconcileApplyOptions): Promise<U>;
  /** A client for the primary's resource, for writes (reads come from the cache). */
  readonly primary: ResourceClient<T>;
  /** The dynamic client, for writes to any resource. */
  readonly client: DynamicClient;
  /** The controller's EventRecorder, if it has one. */
  readonly recorder: EventRecorder | undefined;
  /** Aborts when shutdown gives up waiting for the reconcile, or at once when leadership is lost. */
  readonly signal: AbortSignal;
  /**
   * This reconcile's logger: its lines carry `controller`, `kind`, `namespace`, `name` and a `reconcileID` unique to
   * this reconcile. Log names, never objects (they may hold secrets).
   */
  readonly log: Logger;
}

/** A reconcile function: brings the world in line with the primary named by `req`. Throw to retry with backoff. */
export type Reconciler<T extends KubeObject> = (req: Request, ctx: ReconcileContext<T>) => Promise<Result>;

/** Called after a {@link PermanentError}, for instance to set a status condition; its own failures are logged. */
export type PermanentErrorHandler<T extends KubeObject> = (
  error: PermanentError,
  req: Request,
  ctx: ReconcileContext<T>,
) => Promise<void>;

/** What a controller has done since it was built. */
export interface ControllerStats {
  /** Reconciles finished, whatever the outcome. */
  readonly reconciles: number;
  /** Reconciles that threw (and were retried), permanent errors not included. */
  readonly errors: number;
  /** Reconciles that threw a {@link PermanentError}. */
  readonly permanentErrors: number;
}

interface Source {
  readonly gvr: GroupVersionResource;
  readonly predicates: readonly Predicate<KubeObject>[];
  /** The requests a version of an object maps to; `primary` is the primary's cache, for maps that look up referrers. */
  readonly map: (obj: KubeObject, primary: Store<KubeObject>) => readonly Request[];
}

/** Every kind the watch-all engine selects, mapped to requests. */
interface AllSource {
  readonly options: WatchesAllOptions;
  readonly predicates: readonly Predicate<KubeObject>[];
  readonly map: (obj: KubeObject, kind: KindInfo) => readonly Request[];
}

/**
 * A source of requests from outside the cluster (a gateway that restarted, a timer, a webhook): `subscribe` is called
 * once the controller's caches have synced and gets `emit`; `emit("all")` queues every primary object the cache holds,
 * `emit(requests)` those requests. It returns the function that unsubscribes, called when the controller stops.
 */
export type Trigger = (emit: (requests: readonly Request[] | "all") => void) => () => void;

/** Queues `keys` for a change of `obj` (of `kind`); the change is traced when tracing is on. */
type Enqueue = (
  keys: ReadonlySet<string>,
  kind: string,
  change: "add" | "update" | "delete",
  obj: KubeObject,
  origin: Origin,
) => void;

interface Primary {
  readonly resource: ResourceType & { readonly kind?: string | undefined };
  readonly predicates: readonly Predicate<KubeObject>[];
}

/**
 * Builds a controller: `for` the primary resource, then any `owns` and `watches`, then `reconcile`.
 *
 * @example
 * ```ts
 * const c = controller(cluster, { name: "widgets" })
 *   .for(widgets, { predicates: [generationChanged] })
 *   .owns(configMaps)
 *   .reconcile(async (req, ctx) => (ctx.get(req) ? requeueAfter(30_000) : done()));
 * await c.run(signal);
 * ```
 */
export function controller(cluster: ControllerCluster, options: ControllerOptions): ControllerBuilder<KubeObject> {
  return new Builder(cluster, options, undefined, [], []);
}

/** A controller being described; each step returns a new builder. */
export interface ControllerBuilder<T extends KubeObject> {
  /**
   * The primary resource: its changes enqueue their own keys (a delete too). Give an `ApiResource` (from
   * `cluster.lookup`) or a GroupVersionResource whose kind the cluster's mapper finds at run time.
   */
  for<U extends KubeObject = KubeObject>(
    resource: ResourceType & { readonly kind?: string | undefined },
    options?: SourceOptions<U>,
  ): ControllerBuilder<U>;
  /** A resource whose objects the primary controls: a change enqueues the owner named by its controller reference. */
  owns<U extends KubeObject = KubeObject>(gvr: GroupVersionResource, options?: SourceOptions<U>): ControllerBuilder<T>;
  /**
   * A resource whose changes enqueue the requests `map` returns for the object (old and new version alike). `map` gets
   * the primary's cache too, to find the primaries that refer to the object (controller-runtime's map functions read
   * the manager's cache for that); it may be empty before the caches synced, when every primary is queued anyway.
   */
  watches<U extends KubeObject = KubeObject>(
    gvr: GroupVersionResource,
    map: (obj: U, primary: Store<T>) => readonly Request[],
    options?: SourceOptions<U>,
  ): ControllerBuilder<T>;
  /**
   * Every kind the watch-all engine selects (by default every custom kind; see {@link WatchesAllOptions}), including
   * kinds whose CRDs are created while the controller runs: a change of any object enqueues the requests `map`
   * returns for it (old and new version alike). Reconciles start once the engine has listed the kinds found when it
   * started. Needs a cluster with a mapper (its discovery tells the kinds).
   */
  watchesAll(
    map: (obj: KubeObject, kind: KindInfo) => readonly Request[],
    options?: WatchesAllOptions,
  ): ControllerBuilder<T>;
  /**
   * Requests from outside the cluster (see {@link Trigger}): kube-rs's `reconcile_all_on`, controller-runtime's channel
   * source. E.g. apply everything again to a gateway that restarted and lost its state.
   */
  triggers(trigger: Trigger): ControllerBuilder<T>;
  /** Finishes the controller with its reconcile function (and what to do on a permanent error). */
  reconcile(reconciler: Reconciler<T>, options?: { onPermanentError?: PermanentErrorHandler<T> }): Controller;
}

/**
 * How a {@link Controller} runs under a manager: its informers sync at once (standbys stay warm, so that a failover does
 * not relist), and it reconciles only once `leading` resolves, until `signal` aborts (a drain) or `halt` does (no
 * drain: leadership is gone).
 */
export interface ControllerRunOptions {
  /** Reconciling starts once this resolves; before, the informers acquire and sync but no key is taken. Default: at once. */
  readonly leading?: PromiseLike<unknown> | undefined;
  /** Aborts to stop at once: no more keys, and reconciles in flight see their signal abort without a drain. */
  readonly halt?: AbortSignal | undefined;
  /** Called once every informer of the controller has synced (a readiness check). */
  readonly onSynced?: (() => void) | undefined;
  /** How long a graceful stop waits for reconciles in flight; overrides the controller's `drainTimeoutMs`. */
  readonly drainTimeoutMs?: number | undefined;
  /** The logger used when the controller was built without a `logger` option (a manager's). */
  readonly logger?: Logger | undefined;
}

/** A controller, ready to run. */
export interface Controller {
  /** The controller's name. */
  readonly name: string;
  /** What the controller has done so far. */
  readonly stats: ControllerStats;
  /** Adds a metrics observer for the runs that start from now on; returns a function that removes it from them. */
  observe(metrics: ControllerMetrics): () => void;
  /**
   * Acquires the informers, waits for them to sync, and reconciles until `signal` aborts; then stops taking keys,
   * waits for the reconciles in flight (up to `drainTimeoutMs`, then aborts their signal) and releases the informers.
   * Resolves once all of that is done; rejects if the primary's kind cannot be found or an informer stops unsynced.
   * `options` hold reconciling back until leading, for a manager with leader election.
   */
  run(signal: AbortSignal, options?: ControllerRunOptions): Promise<void>;
}

class Builder<T extends KubeObject> implements ControllerBuilder<T> {
  readonly #cluster: ControllerCluster;
  readonly #options: ControllerOptions;
  readonly #primary: Primary | undefined;
  readonly #owned: readonly { gvr: GroupVersionResource; predicates: readonly Predicate<KubeObject>[] }[];
  readonly #watched: readonly Source[];
  readonly #watchedAll: readonly AllSource[];
  readonly #triggers: readonly Trigger[];

  constructor(
    cluster: ControllerCluster,
    options: ControllerOptions,
    primary: Primary | undefined,
    owned: readonly { gvr: GroupVersionResource; predicates: readonly Predicate<KubeObject>[] }[],
    watched: readonly Source[],
    watchedAll: readonly AllSource[] = [],
    triggers: readonly Trigger[] = [],
  ) {
    this.#cluster = cluster;
    this.#options = options;
    this.#primary = primary;
    this.#owned = owned;
    this.#watched = watched;
    this.#watchedAll = watchedAll;
    this.#triggers = triggers;
  }

  /**
   * The primary resource: its changes enqueue their own keys (a delete too). Give an `ApiResource` (from
   * `cluster.lookup`) or a GroupVersionResource whose kind the cluster's mapper finds at run time.
   */
  for<U extends KubeObject = KubeObject>(
    resource: ResourceType & { readonly kind?: string | undefined },
    options: SourceOptions<U> = {},
  ): ControllerBuilder<U> {
    return new Builder<U>(
      this.#cluster,
      this.#options,
      { resource, predicates: (options.predicates ?? []) as readonly Predicate<KubeObject>[] },
      this.#owned,
      this.#watched,
      this.#watchedAll,
      this.#triggers,
    );
  }

  /** A resource whose objects the primary controls: a change enqueues the owner named by its controller reference. */
  owns<U extends KubeObject = KubeObject>(
    gvr: GroupVersionResource,
    options: SourceOptions<U> = {},
  ): ControllerBuilder<T> {
    const owned = { gvr, predicates: (options.predicates ?? []) as readonly Predicate<KubeObject>[] };
    return new Builder<T>(
      this.#cluster,
      this.#options,
      this.#primary,
      [...this.#owned, owned],
      this.#watched,
      this.#watchedAll,
      this.#triggers,
    );
  }

  /** A resource whose changes enqueue the requests `map` returns for the object (old and new version alike). */
  watches<U extends KubeObject = KubeObject>(
    gvr: GroupVersionResource,
    map: (obj: U, primary: Store<T>) => readonly Request[],
    options: SourceOptions<U> = {},
  ): ControllerBuilder<T> {
    const source: Source = {
      gvr,
      predicates: (options.predicates ?? []) as readonly Predicate<KubeObject>[],
      map: map as unknown as Source["map"],
    };
    return new Builder<T>(
      this.#cluster,
      this.#options,
      this.#primary,
      this.#owned,
      [...this.#watched, source],
      this.#watchedAll,
      this.#triggers,
    );
  }

  /**
   * Every kind the watch-all engine selects (by default every custom kind; see {@link WatchesAllOptions}), including
   * kinds whose CRDs are created while the controller runs: a change of any object enqueues the requests `map`
   * returns for it (old and new version alike). Reconciles start once the engine has listed the kinds found when it
   * started. Needs a cluster with a mapper (its discovery tells the kinds).
   */
  watchesAll(
    map: (obj: KubeObject, kind: KindInfo) => readonly Request[],
    options: WatchesAllOptions = {},
  ): ControllerBuilder<T> {
    if (!this.#cluster.mapper) {
      throw new TypeError(`controller ${this.#options.name}: watchesAll needs a cluster with a mapper, for discovery`);
    }
    const source: AllSource = { options, predicates: options.predicates ?? [], map };
    return new Builder<T>(
      this.#cluster,
      this.#options,
      this.#primary,
      this.#owned,
      this.#watched,
      [...this.#watchedAll, source],
      this.#triggers,
    );
  }

  /** Requests from outside the cluster (see {@link Trigger}). */
  triggers(trigger: Trigger): ControllerBuilder<T> {
    return new Builder<T>(this.#cluster, this.#options, this.#primary, this.#owned, this.#watched, this.#watchedAll, [
      ...this.#triggers,
      trigger,
    ]);
  }

  /** Finishes the controller with its reconcile function (and what to do on a permanent error). */
  reconcile(reconciler: Reconciler<T>, options: { onPermanentError?: PermanentErrorHandler<T> } = {}): Controller {
    if (!this.#primary) throw new TypeError(`controller ${this.#options.name}: call for() before reconcile()`);
    return new ReconcileLoop<T>(
      this.#cluster,
      this.#options,
      this.#primary,
      this.#owned,
      this.#watched,
      this.#watchedAll,
      this.#triggers,
      { reconciler, onPermanentError: options.onPermanentError },
    );
  }
}

class ReconcileLoop<T extends KubeObject> implements Controller {
  readonly name: string;
  readonly #cluster: ControllerCluster;
  readonly #options: ControllerOptions;
  readonly #primary: Primary;
  readonly #owned: readonly { gvr: GroupVersionResource; predicates: readonly Predicate<KubeObject>[] }[];
  readonly #watched: readonly Source[];
  readonly #watchedAll: readonly AllSource[];
  readonly #triggers: readonly Trigger[];
  readonly #reconciler: Reconciler<T>;
  readonly #onPermanentError: PermanentErrorHandler<T> | undefined;
  #log: Logger | undefined;
  #kind = "";
  readonly #tracing: Tracing;
  #running = false;
  #stats = { reconciles: 0, errors: 0, permanentErrors: 0 };
  readonly #observers = new Set<ControllerMetrics>();

  constructor(
    cluster: ControllerCluster,
    options: ControllerOptions,
    primary: Primary,
    owned: readonly { gvr: GroupVersionResource; predicates: readonly Predicate<KubeObject>[] }[],
    watched: readonly Source[],
    watchedAll: readonly AllSource[],
    triggers: readonly Trigger[],
    handlers: { reconciler: Reconciler<T>; onPermanentError: PermanentErrorHandler<T> | undefined },
  ) {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`controller ${options.name}: concurrency must be an integer >= 1, not ${concurrency}`);
    }
    this.name = options.name;
    this.#cluster = cluster;
    this.#options = options;
    this.#primary = primary;
    this.#owned = owned;
    this.#watched = watched;
    this.#watchedAll = watchedAll;
    this.#triggers = triggers;
    this.#reconciler = handlers.reconciler;
    this.#onPermanentError = handlers.onPermanentError;
    this.#tracing = new Tracing(options.tracerProvider);
    if (options.metrics) this.#observers.add(options.metrics);
  }

  /** Adds a metrics observer for the runs that start from now on; returns a function that removes it from them. */
  observe(metrics: ControllerMetrics): () => void {
    this.#observers.add(metrics);
    return () => this.#observers.delete(metrics);
  }

  /** What the controller has done so far. */
  get stats(): ControllerStats {
    return { ...this.#stats };
  }

  /**
   * Acquires the informers, waits for them to sync, and reconciles until `signal` aborts; then stops taking keys,
   * waits for the reconciles in flight (up to `drainTimeoutMs`, then aborts their signal) and releases the informers.
   * Resolves once all of that is done; rejects if the primary's kind cannot be found or an informer stops unsynced.
   * `options` hold reconciling back until leading, for a manager with leader election.
   */
  async run(signal: AbortSignal, options: ControllerRunOptions = {}): Promise<void> {
    if (this.#running) throw new Error(`controller ${this.name} is running already`);
    this.#running = true;
    this.#log = this.#options.logger === undefined && options.logger ? options.logger : loggerOf(this.#options.logger);
    try {
      await this.#run(signal, options);
    } finally {
      this.#running = false;
    }
  }

  async #run(signal: AbortSignal, options: ControllerRunOptions): Promise<void> {
    const { halt } = options;
    if (signal.aborted || halt?.aborted) return;
    let primaryKind: { group: string; kind: string; namespaced: boolean | undefined };
    try {
      primaryKind = await this.#primaryKind(signal);
    } catch (err) {
      // Aborted while discovery answered: a stop, not a failure.
      if (signal.aborted) return;
      throw err;
    }
    const { group, kind, namespaced } = primaryKind;
    this.#kind = kind;
    const metrics = fanOutControllerMetrics([...this.#observers]);
    const queue = new Workqueue<string>({
      name: this.name,
      rateLimiter: this.#options.rateLimiter,
      metrics: metrics.workqueue,
    });
    const traces = new ControllerTracing(this.#tracing, this.name);
    const enqueue: Enqueue = (keys, kind, change, obj, origin) => {
      traces.enqueued(kind, change, obj, origin, keys);
      for (const key of keys) queue.add(key);
    };
    const namespace = this.#options.namespace;
    const primaryGvr = this.#primary.resource;
    const sources: Source[] = [
      { gvr: primaryGvr, predicates: this.#primary.predicates, map: (obj) => [requestFor(obj)] },
      ...this.#owned.map(
        (o): Source => ({
          gvr: o.gvr,
          predicates: o.predicates,
          map: (obj) => ownerRequests(obj, group, kind, namespaced),
        }),
      ),
      ...this.#watched,
    ];
    const leases = new Map<string, InformerLease<KubeObject>>();
    const engines: { readonly engine: WatchAll; readonly consumed: Promise<void> }[] = [];
    const removers: (() => void)[] = [];
    // Removed at the end: a signal may outlive many runs.
    let onAbort = () => {};
    try {
      for (const source of sources) {
        const id = formatGvr(source.gvr);
        let lease = leases.get(id);
        if (!lease) {
          lease = this.#cluster.informers.acquire({ gvr: source.gvr, namespace });
          leases.set(id, lease);
        }
        const primary = leases.get(formatGvr(primaryGvr))?.informer.store as Store<KubeObject>;
        removers.push(lease.informer.addHandlers(handlersOf(source, primary, enqueue)));
      }
      for (const source of this.#watchedAll) {
        const engine = watchAll(this.#watchAllCluster(), this.#engineOptions(source));
        engines.push({ engine, consumed: this.#consume(engine, source, enqueue) });
        removers.push(() => void engine.stop());
      }
      const stopped = new Promise<void>((resolve) => {
        onAbort = resolve;
        if (signal.aborted || halt?.aborted) resolve();
        else {
          signal.addEventListener("abort", onAbort, { once: true });
          halt?.addEventListener("abort", onAbort, { once: true });
        }
      });
      const isStopped = () => signal.aborted || halt?.aborted === true;
      const synced = Promise.all([
        ...[...leases.values()].map((l) => l.informer.synced()),
        ...engines.map((e) => e.engine.synced()),
      ]);
      // An informer that stops unsynced rejects; after the signal nobody waits for the rest any more.
      synced.catch(() => {});
      await Promise.race([synced, stopped]);
      if (isStopped()) return;
      options.onSynced?.();
      await Promise.race([options.leading, stopped]);
      if (isStopped()) return;
      // Subscribed once leading and synced: "all" means every object the primary cache holds, which is known by now.
      const primaryStore = leases.get(formatGvr(primaryGvr))?.informer.store;
      for (const trigger of this.#triggers) {
        removers.push(
          trigger((requests) => {
            if (requests === "all") for (const key of primaryStore?.keys() ?? []) queue.add(key);
            else for (const req of requests) queue.add(requestKey(req));
          }),
        );
      }
      const draining = new AbortController();
      const ctx: Omit<ReconcileContext<T>, "log"> = {
        get: (req) => leases.get(formatGvr(primaryGvr))?.informer.store.get(requestKey(req)) as T | undefined,
        cache: <U extends KubeObject>(gvr: GroupVersionResource) => {
          const lease = leases.get(formatGvr(gvr));
          if (!lease) throw new Error(`controller ${this.name} does not watch ${formatGvr(gvr)}`);
          return lease.informer.store as unknown as Store<U>;
        },
        apply: (obj, options) => this.#apply(obj, options, draining.signal),
        primary: this.#cluster.client.resource<T>(primaryGvr),
        client: this.#cluster.client,
        recorder: this.#options.recorder,
        signal: draining.signal,
      };
      let stopping = false;
      const concurrency = this.#options.concurrency ?? 1;
      metrics.started(this.name, concurrency);
      const worker = async () => {
        for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
          if (stopping) {
            queue.done(key);
            continue;
          }
          metrics.activeWorkers(this.name, 1);
          try {
            await this.#process(queue, key, ctx, traces, (outcome) => metrics.reconciled(this.name, outcome));
          } finally {
            metrics.activeWorkers(this.name, -1);
            queue.done(key);
          }
        }
      };
      const workers = Array.from({ length: concurrency }, () => worker());
      await stopped;
      stopping = true;
      for (const remove of removers.splice(0)) remove();
      const drained = await queue.shutDownWithDrain({
        deadlineMs: options.drainTimeoutMs ?? this.#options.drainTimeoutMs ?? 30_000,
        signal: halt,
      });
      if (!drained) {
        this.#log?.("warn", "controller shutdown gave up waiting for reconciles in flight", { controller: this.name });
        draining.abort(new Error(`controller ${this.name} is shutting down`));
      }
      await Promise.all(workers);
    } finally {
      signal.removeEventListener("abort", onAbort);
      halt?.removeEventListener("abort", onAbort);
      for (const remove of removers.splice(0)) remove();
      queue.shutDown();
      await Promise.all([
        ...[...leases.values()].map((l) => l.release()),
        ...engines.map(async (e) => {
          await e.engine.stop();
          await e.consumed;
        }),
      ]);
    }
  }

  async #process(
    queue: Workqueue<string>,
    key: string,
    shared: Omit<ReconcileContext<T>, "log">,
    traces: ControllerTracing,
    report: (outcome: ReconcileOutcome) => void,
  ): Promise<void> {
    const req = requestOf(key);
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const fields = {
      controller: this.name,
      kind: this.#kind,
      namespace: req.namespace,
      name: req.name,
      reconcileID: randomUUID(),
    };
    const log = this.#log;
    const ctx: ReconcileContext<T> = {
      ...shared,
      log: log ? (level, message, more) => log(level, message, { ...fields, ...more }) : () => {},
    };
    const span = traces.reconcile(key, req);
    let result: Result;
    try {
      result = await (span ? span.run(() => this.#reconciler(req, ctx)) : this.#reconciler(req, ctx));
    } catch (err) {
      this.#stats.reconciles++;
      const permanent = err instanceof PermanentError;
      report({ result: "error", permanent, seconds: seconds() });
      if (permanent) {
        this.#stats.permanentErrors++;
        queue.forget(key);
        try {
          await (span ? span.run(() => this.#permanent(err, req, ctx)) : this.#permanent(err, req, ctx));
        } finally {
          span?.end("permanent_error", err);
        }
        return;
      }
      this.#stats.errors++;
      ctx.log("warn", "reconcile failed, retrying", failureFields(err));
      span?.end("error", err);
      // The retry follows from this run: its span links to this one.
      if (span) traces.link(key, span.spanContext);
      queue.addRateLimited(key);
      return;
    }
    this.#stats.reconciles++;
    report({
      result: !result.requeue ? "success" : result.afterMs === undefined ? "requeue" : "requeue_after",
      permanent: false,
      seconds: seconds(),
    });
    if (!result.requeue) {
      span?.end("success");
      queue.forget(key);
    } else if (result.afterMs === undefined) {
      span?.end("requeue");
      if (span) traces.link(key, span.spanContext);
      queue.addRateLimited(key);
    } else {
      span?.end("requeue_after");
      if (span) traces.link(key, span.spanContext);
      queue.forget(key);
      queue.addAfter(key, result.afterMs);
    }
  }

  /** Server-side apply for {@link ReconcileContext.apply}. */
  async #apply<U extends KubeObject>(
    obj: ApplyObject<U>,
    options: ReconcileApplyOptions = {},
    signal: AbortSignal,
  ): Promise<U> {
    const mapper = this.#cluster.mapper;
    if (!mapper) {
      throw new TypeError(
        `controller ${this.name}: ctx.apply needs a cluster with a mapper to find the resource of ${obj.kind}`,
      );
    }
    if (typeof obj.apiVersion !== "string" || !obj.apiVersion || typeof obj.kind !== "string" || !obj.kind) {
      throw new TypeError(`controller ${this.name}: ctx.apply needs the object's apiVersion and kind`);
    }
    const { owner, force = true, ...patch } = options;
    const { group, version } = parseApiVersion(obj.apiVersion);
    const resource = await mapper.resourceFor({ group, version, kind: obj.kind }, { signal: patch.signal ?? signal });
    let body = obj;
    if (owner) {
      const metadata: Record<string, unknown> = { ...obj.metadata };
      const ownerNamespace = owner.metadata.namespace;
      if (resource.namespaced && metadata.namespace === undefined && ownerNamespace)
        metadata.namespace = ownerNamespace;
      body = { ...obj, metadata } as ApplyObject<U>;
      setControllerReference(owner, body);
    }
    const fieldManager = this.#options.fieldManager ?? this.name;
    return this.#cluster.client
      .resource<U>(resource)
      .apply(body, { ...patch, signal: patch.signal ?? signal, fieldManager, force });
  }

  /** What the watch-all engine needs, from the cluster's client and its mapper's discovery. */
  #watchAllCluster() {
    const mapper = this.#cluster.mapper as RestMapper;
    const client = this.#cluster.client;
    return { client, discovery: mapper.discovery, transport: client.transport };
  }

  /** The engine's options: the user's selection, in the controller's namespace unless it names namespaces itself. */
  #engineOptions(source: AllSource): WatchAllOptions {
    const { predicates: _predicates, ...options } = source.options;
    const namespace = this.#options.namespace;
    const include =
      namespace && !options.include?.namespaces ? { ...options.include, namespaces: [namespace] } : options.include;
    return { ...options, include, logger: options.logger ?? this.#options.logger };
  }

  /** Feeds the engine's object events to the queue until the engine stops. */
  async #consume(engine: WatchAll, source: AllSource, enqueue: Enqueue): Promise<void> {
    const react = objectEventHandler(source, enqueue);
    try {
      for await (const event of engine) if ("name" in event) react(event);
    } catch (err) {
      this.#log?.("error", "watch-all stream failed", { controller: this.name, ...failureFields(err) });
    }
  }

  async #permanent(err: PermanentError, req: Request, ctx: ReconcileContext<T>): Promise<void> {
    ctx.log("warn", "reconcile failed permanently", failureFields(err));
    const obj = ctx.get(req);
    if (obj && this.#options.recorder) {
      this.#options.recorder.record(obj, {
        type: "Warning",
        reason: err.reason,
        action: "Reconcile",
        note: err.message,
      });
    }
    if (!this.#onPermanentError) return;
    try {
      await this.#onPermanentError(err, req, ctx);
    } catch (handlerErr) {
      ctx.log("error", "permanent error handler failed", failureFields(handlerErr));
    }
  }

  /** The primary's group, kind and scope: from the resource given, else from the cluster's mapper. */
  async #primaryKind(signal: AbortSignal): Promise<{ group: string; kind: string; namespaced: boolean | undefined }> {
    const resource = this.#primary.resource;
    if (resource.kind) return { group: resource.group, kind: resource.kind, namespaced: resource.namespaced };
    if (!this.#cluster.mapper) {
      throw new TypeError(
        `controller ${this.name}: the kind of ${formatGvr(resource)} is unknown; give an ApiResource or a cluster with a mapper`,
      );
    }
    const found = await this.#cluster.mapper.kindFor(resource, { signal });
    return { group: found.group, kind: found.kind, namespaced: found.namespaced };
  }
}

/**
 * Handlers that enqueue what `source` maps each passing change to; an update maps the old version too (an owner or a
 * mapping that changed must hear of it). Each key is added once per change: a second add of a key a worker has just
 * taken would mark it dirty and run it twice.
 */
function handlersOf(source: Source, primary: Store<KubeObject>, enqueue: Enqueue): EventHandlers<KubeObject> {
  const passes = (old: KubeObject | undefined, obj: KubeObject | undefined) =>
    source.predicates.every((p) => p(old, obj));
  const keysOf = (...versions: KubeObject[]) =>
    new Set(versions.flatMap((v) => source.map(v, primary).map(requestKey)));
  // Lists leave `kind` out of their items on some servers; the resource names the kind as well in a span.
  const kindOf = (obj: KubeObject) => (typeof obj.kind === "string" && obj.kind ? obj.kind : source.gvr.resource);
  return {
    add: (obj, { origin }) => {
      if (passes(undefined, obj)) enqueue(keysOf(obj), kindOf(obj), "add", obj, origin);
    },
    update: (old, obj, { origin }) => {
      // A resync changes nothing, so the predicates that compare versions would drop it; it is meant to reconcile.
      if (origin !== "resync" && !passes(old, obj)) return;
      enqueue(keysOf(old, obj), kindOf(obj), "update", obj, origin);
    },
    delete: (obj, { origin }) => {
      if (passes(obj, undefined)) enqueue(keysOf(obj), kindOf(obj), "delete", obj, origin);
    },
  };
}

/** The watch-all counterpart of {@link handlersOf}: the same predicates and mapping, on the engine's object events. */
function objectEventHandler(source: AllSource, enqueue: Enqueue): (event: ObjectEvent) => void {
  const passes = (old: KubeObject | undefined, obj: KubeObject | undefined) =>
    source.predicates.every((p) => p(old, obj));
  const keysOf = (kind: KindInfo, ...versions: KubeObject[]) =>
    new Set(versions.flatMap((v) => source.map(v, kind).map(requestKey)));
  return (event) => {
    const { object: obj, old, origin } = event;
    switch (event.type) {
      case "ADDED":
        if (passes(undefined, obj)) enqueue(keysOf(event, obj), event.kind, "add", obj, origin);
        return;
      case "MODIFIED":
        if (origin !== "resync" && !passes(old, obj)) return;
        enqueue(old ? keysOf(event, old, obj) : keysOf(event, obj), event.kind, "update", obj, origin);
        return;
      case "DELETED":
        if (passes(obj, undefined)) enqueue(keysOf(event, obj), event.kind, "delete", obj, origin);
    }
  };
}

/** The primary named by `obj`'s controller reference, if that reference is to the primary's group and kind. */
function ownerRequests(
  obj: KubeObject,
  group: string,
  kind: string,
  namespaced: boolean | undefined,
): readonly Request[] {
  const ref = obj.metadata.ownerReferences?.find((r) => r.controller === true);
  if (!ref || ref.kind !== kind || parseApiVersion(ref.apiVersion).group !== group) return [];
  const namespace = namespaced === false ? undefined : obj.metadata.namespace;
  return [namespace ? { namespace, name: ref.name } : { name: ref.name }];
}
