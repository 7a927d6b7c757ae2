/**
 * An informer: a watcher feeding a store, and handlers told what changed. On every relist the store is reconciled with
 * the new list, and what changed while disconnected is delivered: updates, adds, and the deletes that happened unseen
 * (with the last known state and `finalStateUnknown`), so that no handler ever misses a delete. A stopped informer may
 * be started again: it keeps its store and its handlers, and its first list is such a relist.
 */
import type { WatchOptions, WatchSink } from "../client/options.js";
import type { ApiError } from "../http/errors.js";
import type { KubeObject } from "../object/types.js";
import { internStrings } from "./intern.js";
import { failureFields, type Logger, type LoggerOption, loggerOf } from "./log.js";
import { HandlerQueue, type Notification, type Origin } from "./notify.js";
import { type IndexFunc, keyOf, Store } from "./store.js";
import { type ListWatch, runWatcher, type WatcherEvent, type WatcherOptions, wrapListWatch } from "./watcher.js";

/** What a handler is told about; any subset may be given. Async handlers are awaited before their next call. */
export interface EventHandlers<T> {
  /** A new object; `origin` "initial" while the first list is being delivered. */
  add?(object: T, info: { origin: Origin }): void | Promise<void>;
  /** A changed object (or, with origin "resync", an unchanged one delivered again). */
  update?(old: T, object: T, info: { origin: Origin }): void | Promise<void>;
  /** A deleted object: its final state, or with `finalStateUnknown` the last state seen before a relist. */
  delete?(object: T, info: { origin: Origin; finalStateUnknown: boolean }): void | Promise<void>;
}

/** Receives an informer's log lines (see {@link Logger}). Never given secrets. */
export type InformerLogger = Logger;

/** Options of an {@link Informer}. */
export interface InformerOptions<T> extends WatcherOptions {
  /**
   * Applied to every object before it is stored and handed out; default {@link defaultTransform}: drop
   * `metadata.managedFields`, which is often most of an object's size and of no use to a cache, and keep one copy of
   * each repeated string of the type and metadata. `dropManagedFields` alone opts out of the latter. When it throws, the object is reported (logger, `objectErrors`)
   * and the store keeps the version it had, on a live event and on a relist alike; a delete still removes it.
   */
  readonly transform?: ((object: T) => T) | undefined;
  /** Deliver every stored object again as an update (origin "resync") this often; default never. */
  readonly resyncMs?: number | undefined;
  readonly indexers?: Readonly<Record<string, IndexFunc<T>>> | undefined;
  /**
   * Where failures and retries are logged; default warnings and errors to stderr ({@link stderrLogger}), "none" for
   * silence (they are still counted in {@link Informer.status}).
   */
  readonly logger?: LoggerOption | undefined;
  /**
   * How many objects may wait on one handler before the informer stops reading its watch until the handlers have
   * caught up (the server holds what follows, and the store stands still meanwhile). Default none: a handler's backlog
   * is bounded anyway by the number of objects (one pending change each), and a slow handler holds neither the watch
   * nor the other handlers.
   */
  readonly maxHandlerBacklog?: number | undefined;
}

/**
 * Drops `metadata.managedFields`: the default transform. It gives the object a new `metadata` without the field rather
 * than deleting it: V8 turns an object into a hash table (dictionary mode) when a property other than its last is
 * deleted, and a custom resource's metadata is served with its keys sorted, `managedFields` among them, which made
 * its metadata cost some 370 bytes more than the copy does.
 */
export function dropManagedFields<T extends KubeObject>(object: T): T {
  const metadata = object.metadata;
  if (metadata && "managedFields" in metadata) {
    const { managedFields: _, ...rest } = metadata;
    object.metadata = rest;
  }
  return object;
}

/**
 * Shared by every informer's default transform: namespaces and apiVersions repeat across kinds too. Bounded, so that
 * what it keeps of stopped informers' objects stays small (at most 10,000 strings of up to 64 characters).
 */
const metadataStrings = internStrings<KubeObject>({ bodies: false, maxStrings: 10_000 });

/**
 * The default transform: {@link dropManagedFields}, then one copy of each repeated string of the object's type and
 * metadata, shared by every object of every informer (see {@link internStrings}): what the object reads is unchanged.
 * JSON.parse gives each object its own copy of every value over 10 characters, e.g. its apiVersion, namespace and
 * creationTimestamp.
 */
export function defaultTransform<T extends KubeObject>(object: T): T {
  metadataStrings(dropManagedFields(object));
  return object;
}

/** Whether `transform` is one of ours that drops `metadata.managedFields` (the default is). */
function dropsManagedFields(transform: unknown): boolean {
  return transform === undefined || transform === defaultTransform || transform === dropManagedFields;
}

function resourceVersion(obj: KubeObject): string | undefined {
  return typeof obj.metadata?.resourceVersion === "string" ? obj.metadata.resourceVersion : undefined;
}

function uid(obj: KubeObject): string | undefined {
  return typeof obj.metadata?.uid === "string" ? obj.metadata.uid : undefined;
}

/** Whether `a` and `b` are different objects under one name: deleted and created again in between. */
function replaced(a: KubeObject, b: KubeObject): boolean {
  const before = uid(a);
  const after = uid(b);
  return before !== undefined && after !== undefined && before !== after;
}

/**
 * Stands for the sync waiters or error listeners of an informer that has none: an informer holds a set of its own only
 * while it has members (a watch-all engine holds an informer per kind, nearly all of them synced and without either).
 * Never added to: the first member gets a set made for it.
 */
const noMembers = new Set<never>();

/** Why {@link Informer.synced} gave up: the informer stopped before its initial list was stored. */
export class InformerStoppedError extends Error {
  override readonly name = "InformerStoppedError";

  constructor(source: string) {
    super(`the informer of ${source} stopped before it synced`);
  }
}

/**
 * What an informer is doing, for status pages and readiness. It is healthy when `consecutiveErrors` is 0: then
 * `lastError` and `nextRetryAt` are undefined too.
 */
export interface InformerStatus {
  readonly synced: boolean;
  readonly objects: number;
  /** The stored objects' estimated size as compact JSON (see {@link Store.stats}). */
  readonly bytes: number;
  readonly resourceVersion: string | undefined;
  /** The latest error of the failures going on now; undefined once healthy again. */
  readonly lastError: ApiError | undefined;
  /**
   * Failed list and watch attempts in a row; back to 0 once a list completes, an event arrives or the server accepts
   * a watch from the stored resourceVersion.
   */
  readonly consecutiveErrors: number;
  /**
   * When the next attempt after a failure is due, in epoch milliseconds (`Date.now()`'s scale): in the future while
   * the informer waits, in the past while that attempt is under way; undefined when healthy.
   */
  readonly nextRetryAt: number | undefined;
  readonly relists: number;
  /** Objects the transform or an index function threw on, since the informer was made: left as they were stored. */
  readonly objectErrors: number;
  /** Handler calls that threw (or rejected), since the informer was made: each is logged, and the handler goes on. */
  readonly handlerErrors: number;
}

/**
 * Keeps a store of one resource (one selection of it) in sync and tells handlers what changed. Unlike client-go's
 * SharedIndexInformer it can be started again once stopped (by {@link Informer.stop} or by its start signal alike).
 */
export class Informer<T extends KubeObject = KubeObject> {
  /** The objects as last seen, with their indexes; read it, never write it. */
  readonly store: Store<T>;
  /** What the informer lists and watches. */
  readonly source: ListWatch<T>;
  /** {@link source} as the watcher reads it: a watch the server accepts tells the informer it is healthy again. */
  readonly #watched: ListWatch<T>;
  readonly #options: InformerOptions<T>;
  readonly #transform: (object: T) => T;
  readonly #queues = new Set<HandlerQueue<T>>();
  /** Called with nothing once synced, or with the reason the wait is over without it. */
  #syncWaiters: Set<(stopped?: InformerStoppedError) => void> = noMembers;
  #errorListeners: Set<(error: ApiError, retryInMs: number) => void> = noMembers;
  /** The current run's; aborted once it is stopping. */
  #controller: AbortController | undefined;
  /** The current run, teardown included; undefined once stopped. */
  #running: Promise<void> | undefined;
  /** Whether handler queues deliver: from a run's start to its end, and while {@link Informer.stop} drains them. */
  #delivering = false;
  #synced = false;
  #started = false;
  /** Whether a list has ever been stored: from then on a list is a relist, and late handlers are told the store. */
  #listed = false;
  #resourceVersion: string | undefined;
  #lastError: ApiError | undefined;
  #consecutiveErrors = 0;
  #nextRetryAt: number | undefined;
  #relists = 0;
  #objectErrors = 0;
  #handlerErrors = 0;
  readonly #logger: Logger | undefined;

  constructor(source: ListWatch<T>, options: InformerOptions<T> = {}) {
    this.source = source;
    this.#watched = reportingOpens(source, () => this.#healthy());
    this.#options = options;
    this.#logger = loggerOf(options.logger);
    this.#transform = options.transform ?? defaultTransform;
    this.store = new Store<T>(options.indexers);
  }

  /** Whether this run's initial list has been stored (handlers may still be working through it). */
  get hasSynced(): boolean {
    return this.#synced;
  }

  /** A snapshot of the informer's state. */
  status(): InformerStatus {
    const { objects, bytes } = this.store.stats();
    return {
      synced: this.#synced,
      objects,
      bytes,
      resourceVersion: this.#resourceVersion,
      lastError: this.#lastError,
      consecutiveErrors: this.#consecutiveErrors,
      nextRetryAt: this.#nextRetryAt,
      relists: this.#relists,
      objectErrors: this.#objectErrors,
      handlerErrors: this.#handlerErrors,
    };
  }

  /**
   * Adds handlers; returns a function that removes them. Handlers added once the store holds a list are first told of
   * every stored object as an add with origin "initial", as client-go does, unless `replay` is false (for a caller
   * that has just read the store itself). While the informer is stopped they are told nothing until it starts again.
   */
  addHandlers(handlers: EventHandlers<T>, { replay = true }: { replay?: boolean | undefined } = {}): () => void {
    const queue = new HandlerQueue<T>(
      (n) => deliver(handlers, n),
      (err, n) => {
        this.#handlerErrors++;
        this.#log("error", "informer handler failed", {
          source: this.source.description,
          event: n.type,
          key: keyOf(n.object),
          ...failureFields(err),
        });
      },
    );
    if (!this.#delivering) queue.pause();
    this.#queues.add(queue);
    if (this.#listed && replay) {
      for (const object of this.store.list()) queue.push(keyOf(object), { type: "add", object, origin: "initial" });
    }
    return () => {
      queue.close();
      this.#queues.delete(queue);
    };
  }

  /** Calls `listener` on every error the watcher reports (it retries by itself). Returns a function that removes it. */
  onError(listener: (error: ApiError, retryInMs: number) => void): () => void {
    if (this.#errorListeners === noMembers) this.#errorListeners = new Set();
    this.#errorListeners.add(listener);
    return () => {
      this.#errorListeners.delete(listener);
      if (this.#errorListeners.size === 0) this.#errorListeners = noMembers;
    };
  }

  /**
   * Resolves once the initial list is in the store (waiting for {@link Informer.start} if it has not been called yet). Rejects
   * with the signal's reason if `signal` aborts first, and with an {@link InformerStoppedError} if the informer stops
   * first or is stopped without having synced, as client-go's `WaitForCacheSync` returns false: no wait outlives the
   * informer, so none needs a signal to end.
   */
  synced(signal?: AbortSignal): Promise<void> {
    if (this.#synced) return Promise.resolve();
    if (this.#started && !this.#running) return Promise.reject(new InformerStoppedError(this.source.description));
    return new Promise((resolve, reject) => {
      const done = (stopped?: InformerStoppedError) => {
        signal?.removeEventListener("abort", onAbort);
        this.#forgetWaiter(done);
        if (stopped) reject(stopped);
        else resolve();
      };
      const onAbort = () => {
        this.#forgetWaiter(done);
        reject(signal?.reason ?? new Error("aborted"));
      };
      if (signal?.aborted) return onAbort();
      if (this.#syncWaiters === noMembers) this.#syncWaiters = new Set();
      this.#syncWaiters.add(done);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  #forgetWaiter(waiter: (stopped?: InformerStoppedError) => void): void {
    this.#syncWaiters.delete(waiter);
    if (this.#syncWaiters.size === 0) this.#syncWaiters = noMembers;
  }

  /**
   * Resolves once every handler has handled everything delivered so far; while the informer is stopped, once no
   * handler call is in flight (what is still queued then waits for a restart).
   */
  async idle(): Promise<void> {
    await Promise.all([...this.#queues].map((q) => q.idle()));
  }

  /**
   * Starts listing and watching in the background (a no-op while running); stops when `signal` aborts or {@link Informer.stop}
   * is called. Starting a stopped informer, also one still stopping, runs it again: `hasSynced` is false until the new
   * list is stored, and handlers are told how it differs from the store, as on a relist, after what they had not yet
   * been told when it stopped.
   */
  start(signal?: AbortSignal): void {
    if (this.#controller && !this.#controller.signal.aborted) return;
    const controller = new AbortController();
    this.#controller = controller;
    this.#started = true;
    this.#synced = false;
    if (!signal) {
      // Nothing to follow: no listener to remove when the run ends, and no closure held for it while it runs.
      this.#running = this.#lifetime(controller, this.#running);
      return;
    }
    const onAbort = () => controller.abort(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    this.#running = this.#lifetime(controller, this.#running).finally(() =>
      signal.removeEventListener("abort", onAbort),
    );
  }

  /**
   * Stops watching and handling; resolves once the watch has closed. Handlers are not called again until a restart,
   * which delivers what was still queued for them. With `drain`, they first receive everything already queued, so
   * that what they were told matches the store exactly.
   */
  async stop({ drain = false }: { drain?: boolean | undefined } = {}): Promise<void> {
    this.#controller?.abort();
    await this.#running;
    if (drain && !this.#running) await this.#flush();
  }

  /** One run, from the end of the previous one (a restart may come before that has wound down) to its own. */
  async #lifetime(controller: AbortController, previous: Promise<void> | undefined): Promise<void> {
    await previous?.catch(() => {});
    try {
      if (controller.signal.aborted) return;
      this.#delivering = true;
      for (const queue of this.#queues) queue.resume();
      await this.#run(controller.signal);
    } finally {
      // Whichever way the run ended, stop() or the start signal, the informer is left in the same state.
      if (this.#controller === controller) this.#halt();
    }
  }

  #halt(): void {
    this.#controller = undefined;
    this.#running = undefined;
    this.#delivering = false;
    for (const queue of this.#queues) queue.pause();
    if (this.#syncWaiters.size === 0) return;
    const stopped = new InformerStoppedError(this.source.description);
    for (const fail of [...this.#syncWaiters]) fail(stopped);
    this.#syncWaiters.clear();
  }

  /** Delivers what is queued for handlers of a stopped informer. */
  async #flush(): Promise<void> {
    this.#delivering = true;
    for (const queue of this.#queues) queue.resume();
    await this.idle();
    // A start() meanwhile has the queues deliver on.
    if (!this.#running) this.#halt();
  }

  async #run(signal: AbortSignal): Promise<void> {
    const resync = this.#options.resyncMs
      ? setInterval(() => this.#resync(), this.#options.resyncMs).unref()
      : undefined;
    let buffer: Map<string, T> | undefined;
    // A restarted informer's first list is a relist of its store: it must not read older than what the store holds.
    const options: WatcherOptions = {
      ...this.#options,
      ...(this.#listed ? { initialListResourceVersion: "" as const } : {}),
      // A transform that drops managedFields anyway spares their parsing.
      ...(dropsManagedFields(this.#options.transform) ? { dropManagedFields: true } : {}),
    };
    const limit = this.#options.maxHandlerBacklog ?? Number.POSITIVE_INFINITY;
    const queues = this.#queues;
    const keepingUp = () => {
      for (const queue of queues) if (queue.backlog >= limit) return false;
      return true;
    };
    try {
      // A batch is what one read brought, handled in one synchronous pass straight from the network read.
      await runWatcher(
        this.#watched,
        { ...options, signal },
        {
          batch: (events) => {
            for (let i = 0; i < events.length; i++) {
              const event = events[i] as WatcherEvent<T>;
              // A handler may have stopped the informer: nothing more is stored or told after that.
              if (signal.aborted) break;
              try {
                buffer = this.#handle(event, buffer);
              } catch (err) {
                // A bug here must not end the informer: it would stop silently, its store going stale unseen.
                this.#log("error", "informer failed to handle an event", {
                  source: this.source.description,
                  event: event.type,
                  ...failureFields(err),
                });
              }
              if (event.type !== "error" && event.type !== "init-start") this.#healthy();
            }
            // A handler that is behind pauses the watch rather than let its backlog grow with the stream.
            return keepingUp();
          },
          ready: () => this.idle(),
        },
      );
    } finally {
      clearInterval(resync);
    }
  }

  #handle(event: WatcherEvent<T>, buffer: Map<string, T> | undefined) {
    switch (event.type) {
      case "init-start":
        return new Map<string, T>();
      case "init-object": {
        const key = keyOf(event.object);
        // Left out of the new list, an object that exists would be told deleted: it keeps its stored version, as a
        // live update of it does.
        const object = this.#transformed(event.object, key) ?? this.store.get(key);
        if (object) buffer?.set(key, object);
        return buffer;
      }
      case "init-done": {
        const relist = this.#listed;
        this.#replace(buffer ?? new Map(), relist ? "relist" : "initial");
        this.#listed = true;
        this.#resourceVersion = event.resourceVersion;
        if (relist) this.#relists++;
        if (!this.#synced) {
          this.#synced = true;
          for (const wake of [...this.#syncWaiters]) wake();
          this.#syncWaiters.clear();
        }
        return undefined;
      }
      case "apply": {
        const key = keyOf(event.object);
        this.#resourceVersion = resourceVersion(event.object) ?? this.#resourceVersion;
        const object = this.#transformed(event.object, key);
        if (!object) return buffer;
        let old: T | undefined;
        try {
          old = this.store.set(key, object);
        } catch (err) {
          this.#objectFailed("store", key, err);
          return buffer;
        }
        if (!old) this.#notify(key, { type: "add", object, origin: "live" });
        else if (replaced(old, object)) {
          this.#notify(key, { type: "delete", object: old, origin: "live", finalStateUnknown: true });
          this.#notify(key, { type: "add", object, origin: "live" });
        } else this.#notify(key, { type: "update", old, object, origin: "live" });
        return buffer;
      }
      case "delete": {
        const key = keyOf(event.object);
        this.#resourceVersion = resourceVersion(event.object) ?? this.#resourceVersion;
        const object = this.#transformed(event.object, key);
        const old = this.store.delete(key);
        if (object) this.#notify(key, { type: "delete", object, origin: "live", finalStateUnknown: false });
        // The object is gone all the same: handlers get the last state they were given.
        else if (old) this.#notify(key, { type: "delete", object: old, origin: "live", finalStateUnknown: true });
        return buffer;
      }
      case "bookmark":
        this.#resourceVersion = event.resourceVersion;
        return buffer;
      case "error":
        this.#lastError = event.error;
        this.#consecutiveErrors++;
        this.#nextRetryAt = Date.now() + event.retryInMs;
        this.#log("warn", "watch failed; retrying", {
          source: this.source.description,
          kind: event.error.kind,
          error: event.error.message,
          retryInMs: Math.round(event.retryInMs),
        });
        for (const listener of this.#errorListeners) {
          try {
            listener(event.error, event.retryInMs);
          } catch (err) {
            this.#log("error", "informer error listener failed", {
              source: this.source.description,
              ...failureFields(err),
            });
          }
        }
        return buffer;
    }
  }

  /**
   * Makes the store equal to `fresh` and tells handlers every difference. One object that cannot be stored (a throwing
   * index function) is reported and keeps its stored version, so that the rest still arrives and the informer syncs.
   */
  #replace(fresh: Map<string, T>, origin: Origin): void {
    for (const key of this.store.keys()) {
      if (fresh.has(key)) continue;
      const old = this.store.delete(key);
      if (old) this.#notify(key, { type: "delete", object: old, origin, finalStateUnknown: true });
    }
    for (const [key, object] of fresh) {
      let old: T | undefined;
      try {
        old = this.store.set(key, object);
      } catch (err) {
        this.#objectFailed("store", key, err);
        continue;
      }
      if (!old) this.#notify(key, { type: "add", object, origin });
      else if (replaced(old, object)) {
        this.#notify(key, { type: "delete", object: old, origin, finalStateUnknown: true });
        this.#notify(key, { type: "add", object, origin });
      } else if (resourceVersion(old) !== resourceVersion(object)) {
        this.#notify(key, { type: "update", old, object, origin });
      }
    }
  }

  /** The transformed object, or undefined when the transform threw (reported). */
  #transformed(object: T, key: string): T | undefined {
    try {
      return this.#transform(object);
    } catch (err) {
      this.#objectFailed("transform", key, err);
      return undefined;
    }
  }

  #objectFailed(what: "transform" | "store", key: string, err: unknown): void {
    this.#objectErrors++;
    this.#log("error", `informer could not ${what} an object`, {
      source: this.source.description,
      key,
      ...failureFields(err),
    });
  }

  #healthy(): void {
    this.#consecutiveErrors = 0;
    this.#lastError = undefined;
    this.#nextRetryAt = undefined;
  }

  #resync(): void {
    for (const object of this.store.list()) {
      this.#notify(keyOf(object), { type: "update", old: object, object, origin: "resync" });
    }
  }

  #notify(key: string, n: Notification<T>): void {
    for (const queue of this.#queues) queue.push(key, n);
  }

  #log(level: "info" | "warn" | "error", message: string, fields: Record<string, unknown>): void {
    try {
      this.#logger?.(level, message, fields);
    } catch {
      // A broken logger must not take the informer down with it.
    }
  }
}

/**
 * `source` telling `opened` when the server accepts a watch from a resourceVersion: the informer's store is being kept
 * current again, even if nothing changes for a long while. A streaming list's watch is not such a sign: it has yet to
 * deliver the whole list.
 */
function reportingOpens<T extends KubeObject>(source: ListWatch<T>, opened: () => void): ListWatch<T> {
  const reporting = (opts: WatchOptions): WatchOptions =>
    opts.sendInitialEvents
      ? opts
      : {
          ...opts,
          onOpen: () => {
            opts.onOpen?.();
            opened();
          },
        };
  const batches = source.watchBatches?.bind(source);
  const push = source.watchPush?.bind(source);
  return wrapListWatch(source, {
    list: (opts) => source.list(opts),
    watch: (opts) => source.watch(reporting(opts)),
    watchBatches: batches && ((opts: WatchOptions) => batches(reporting(opts))),
    watchPush: push && ((opts: WatchOptions, sink: WatchSink<T>) => push(reporting(opts), sink)),
  });
}

function deliver<T>(handlers: EventHandlers<T>, n: Notification<T>): void | Promise<void> {
  switch (n.type) {
    case "add":
      return handlers.add?.(n.object, { origin: n.origin });
    case "update":
      return handlers.update?.(n.old, n.object, { origin: n.origin });
    case "delete":
      return handlers.delete?.(n.object, { origin: n.origin, finalStateUnknown: n.finalStateUnknown });
  }
}
