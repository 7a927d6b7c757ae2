/**
 * The watch-all engine: one informer per served kind, found at run time and followed as kinds come, change version
 * and go, merged into one ordered stream of events. CRDs are watched (a kind starts the moment its CRD is
 * Established), and discovery is refreshed periodically and whenever an APIService changes, for the kinds that CRDs
 * do not describe. Each kind is run by its own {@link KindWatch}; this module decides which kinds should be watched,
 * owns the stream and the checkpoint, and reports status.
 */
import { Backoff, delay } from "../cache/backoff.js";
import { Informer, type InformerOptions } from "../cache/informer.js";
import { type Logger, type LoggerOption, loggerOf } from "../cache/log.js";
import { listWatchOf } from "../cache/watcher.js";
import type { DynamicClient } from "../client/resource.js";
import type { DiscoveryClient } from "../discovery/client.js";
import { preferredResources } from "../discovery/snapshot-mapper.js";
import type { ApiResource, DiscoveryResult } from "../discovery/types.js";
import type { Transport } from "../http/transport.js";
import type { KubeObject } from "../object/types.js";
import { untilAborted } from "../util/abort.js";
import { definedProps } from "../util/defined.js";
import { accessDenied } from "./access.js";
import { Channel } from "./channel.js";
import { type CheckpointKind, ghost, Ledger, readCheckpoint, stamp, writeCheckpoint } from "./checkpoint.js";
import { crdEssentials, crdResource } from "./crds.js";
import { filtered, isUnavailable, isWanted, isWatchable, objectScope, selected } from "./filter.js";
import { type KindHost, KindWatch } from "./kind.js";
import { Slots } from "./slots.js";
import {
  groupResource,
  type KindFilter,
  type KindStatus,
  kindInfo,
  type ObjectEvent,
  type WatchAllEvent,
  type WatchAllStatus,
} from "./types.js";

/** Options of the watch-all engine. */
export interface WatchAllOptions {
  /** Only the kinds (and namespaces) these name; default every custom kind (see `allResources`). */
  readonly include?: KindFilter | undefined;
  /** Never the kinds (and namespaces) these name. */
  readonly exclude?: KindFilter | undefined;
  /**
   * Built-in kinds too (core, `apps`, `*.k8s.io`, ...): every listable, watchable resource. Default: custom kinds, and
   * the built-in kinds that `include` names by group, kind or category.
   */
  readonly allResources?: boolean | undefined;
  /** Only objects with these labels (server-side); `!key` and `key notin (...)` exclude. */
  readonly labelSelector?: string | undefined;
  /** Only objects whose fields match (server-side; every kind supports `metadata.name` and `metadata.namespace`). */
  readonly fieldSelector?: string | undefined;
  /** Watch `PartialObjectMetadata` only: cheap, wide watching. */
  readonly metadataOnly?: boolean | undefined;
  /** Kinds listing at once (a listing kind holds a slot until listed or failing); default 8. */
  readonly concurrency?: number | undefined;
  /** Discovery refresh period, the safety net behind the CRD and APIService watches; default 30 s. */
  readonly discoveryRefreshMs?: number | undefined;
  /** Leave out updates that change only bookkeeping (resourceVersion, managedFields); default true. */
  readonly dropNoise?: boolean | undefined;
  /**
   * Check list and watch rights with SelfSubjectAccessReviews before listing a kind; default true. The engine first
   * asks once whether it may list and watch every resource (`*` in every group, as an admin may): then no kind needs
   * a review of its own.
   */
  readonly accessReview?: boolean | undefined;
  /**
   * Resume from, and keep saving to, this checkpoint file. At least once: an event counts as handled when the loop
   * asks for the next one, so the one in hand when the process dies, a handler throws or the loop is left with `break`
   * comes again after a restart (as the change it was: a later state of the object if it changed since).
   */
  readonly checkpoint?: string | undefined;
  /**
   * When an event counts as handled. "next" (the default): when the loop asks for the next one. "manual": when the
   * consumer calls {@link WatchAll.acknowledge} with it, in any order (a sink's acknowledgements come back out of
   * order); the checkpoint then advances only over the longest prefix of the stream that is acknowledged, a low
   * watermark, so that whatever was not acknowledged comes again after a restart.
   */
  readonly acknowledge?: "next" | "manual" | undefined;
  /** How often the checkpoint is saved when it changed; default 5 s (and always on stop). */
  readonly checkpointEveryMs?: number | undefined;
  /** Events buffered for the consumer before informers are slowed down; default 1024. */
  readonly bufferSize?: number | undefined;
  /** Options for every informer (resync, watcher tuning, backoff: also the backoff of access reviews). */
  readonly informer?: InformerOptions<KubeObject> | undefined;
  /**
   * The engine's and its informers' logger; default warnings and errors to stderr, "none" for silence. Failures are
   * counted in {@link WatchAll.status} either way.
   */
  readonly logger?: LoggerOption | undefined;
}

/** What the engine needs of a cluster (a `Cluster` from `connect()` has all three). */
export interface WatchAllCluster {
  /** Lists and watches each kind. */
  readonly client: DynamicClient;
  /** Tells which kinds there are, refreshed as CRDs and APIs come and go. */
  readonly discovery: DiscoveryClient;
  /** Asks the server which kinds may be watched (`accessReview`). */
  readonly transport: Transport;
}

/** An event on its way to the consumer; a silent one only updates the checkpoint (an update left out as noise). */
interface Delivery {
  readonly event: WatchAllEvent;
  readonly silent: boolean;
}

/** An event of the stream under "manual" acknowledgement, and whether it is acknowledged. */
interface Pending {
  readonly event: WatchAllEvent;
  readonly silent: boolean;
  acked: boolean;
}

const crdsGvr = { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" };
const apiServicesGvr = { group: "apiregistration.k8s.io", version: "v1", resource: "apiservices" };

/** What an informer needs to follow an object, and all the APIService informer keeps: it only tells of changes. */
function identity(o: KubeObject): KubeObject {
  const { name, uid, resourceVersion } = o.metadata ?? {};
  return { apiVersion: o.apiVersion, kind: o.kind, metadata: { name, uid, resourceVersion } };
}

/**
 * Watches every kind; iterate it (once) for the merged stream: `for await (const e of engine)`. Per kind: KIND_ADDED,
 * its objects (origin "initial"), KIND_SYNCED, then changes; a kind that goes away delivers every object it still has
 * as DELETED (`finalStateUnknown`), then KIND_REMOVED, and is no longer requested. Events of one object arrive in
 * order; a slow consumer slows the informers (an object's pending changes are then merged, latest state winning, as
 * an informer's handlers merge them). Start with {@link WatchAll.start} (or use {@link watchAll}), end with {@link WatchAll.stop}, an
 * aborted signal, or by leaving the loop.
 */
export class WatchAll implements AsyncIterable<WatchAllEvent> {
  readonly #cluster: WatchAllCluster;
  readonly #options: WatchAllOptions;
  readonly #channel: Channel<Delivery>;
  readonly #slots: Slots;
  readonly #controller = new AbortController();
  readonly #kinds = new Map<string, KindWatch>();
  readonly #host: KindHost;
  /** What Established CRDs serve, by `resource.group`: fresher than discovery. */
  readonly #crdResources = new Map<string, ApiResource>();
  /** Kinds whose CRD is gone (or serves nothing) while discovery may still list them. */
  readonly #deletedCrds = new Set<string>();
  #crdsChanged = false;
  /** Whether every resource may be listed and watched, by the namespace asked about ("" for all): asked once each. */
  readonly #everywhere = new Map<string, Promise<boolean>>();
  #crdInformer: Informer<KubeObject> | undefined;
  #apiServiceInformer: Informer<KubeObject> | undefined;
  #discovery: DiscoveryResult | undefined;
  #discovered: ApiResource[] = [];
  /** Wakes the discovery loop for a refresh now. */
  #refreshNow = new AbortController();
  #refreshWanted = false;
  #scheduled = false;
  #ledger: Ledger | undefined;
  /** "manual" acknowledgement: events yielded (and silent ones) in stream order, from the oldest not applied. */
  readonly #pending: Pending[] = [];
  #pendingHead = 0;
  /** The entries of {@link #pending} not acknowledged yet, by event. */
  readonly #unacked = new Map<WatchAllEvent, Pending>();
  /** Kinds of the checkpoint not taken up yet: a resumed kind compares its first list with what they hold. */
  readonly #resumable = new Map<string, CheckpointKind>();
  #saving: Promise<void> = Promise.resolve();
  readonly #tasks: Promise<unknown>[] = [];
  #started: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #iterated = false;
  readonly #logger: Logger | undefined;
  /** The options of every kind's informer: one object for them all. */
  readonly #informerOptions: InformerOptions<KubeObject>;
  /**
   * The kinds of the first discovery whose KIND_SYNCED (or KIND_QUARANTINED, KIND_REMOVED) the consumer has not taken
   * yet; undefined until discovery has answered once.
   */
  #unsettled: Set<string> | undefined;
  /** Kinds whose KIND_SYNCED, KIND_QUARANTINED or KIND_REMOVED the consumer took before discovery answered. */
  readonly #settled = new Set<string>();
  readonly #initialSync: Promise<void>;
  #initialSynced: () => void = () => {};
  #initialSyncFailed: (err: Error) => void = () => {};

  constructor(cluster: WatchAllCluster, options: WatchAllOptions = {}) {
    this.#cluster = cluster;
    this.#options = options;
    this.#initialSync = new Promise((resolve, reject) => {
      this.#initialSynced = resolve;
      this.#initialSyncFailed = reject;
    });
    // Nobody may ever wait for it; a stop before the sync must not be an unhandled rejection.
    this.#initialSync.catch(() => {});
    this.#logger = loggerOf(options.logger);
    this.#informerOptions = { ...options.informer, ...definedProps({ logger: options.logger }) };
    this.#channel = new Channel(options.bufferSize ?? 1024);
    this.#slots = new Slots(options.concurrency ?? 8);
    this.#host = {
      slots: this.#slots,
      emit: (event, silent = false) => this.#emit(event, silent),
      informer: (r) => this.#newInformer(r),
      denied: (r, signal) => this.#denied(r, signal),
      dropNoise: options.dropNoise !== false,
      backoff: options.informer?.backoff,
      log: (level, message, fields) => this.#log(level, message, fields),
      ended: (kind) => this.#ended(kind),
    };
  }

  get #signal(): AbortSignal {
    return this.#controller.signal;
  }

  #log(level: "info" | "warn" | "error", message: string, fields: Record<string, unknown> = {}): void {
    try {
      this.#logger?.(level, message, fields);
    } catch {
      // A broken logger must not stop the engine.
    }
  }

  /**
   * Starts following kinds; `signal` stops the engine when it aborts. Rejects (and ends the stream with the same
   * error) when the checkpoint cannot be read. Calling it again returns the first call's promise.
   */
  start(signal?: AbortSignal): Promise<void> {
    this.#started ??= this.#start(signal);
    return this.#started;
  }

  async #start(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) {
      void this.stop();
      return;
    }
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
    const path = this.#options.checkpoint;
    if (path) {
      try {
        const checkpoint = await readCheckpoint(path);
        this.#ledger = new Ledger(checkpoint);
        for (const [gr, k] of Object.entries(checkpoint?.kinds ?? {})) this.#resumable.set(gr, k);
      } catch (err) {
        this.#channel.close(err);
        void this.stop();
        throw err;
      }
    }
    if (this.#signal.aborted) return;
    this.#crdInformer = this.#metaInformer(crdsGvr, crdEssentials, () => {
      this.#crdsChanged = true;
      this.#schedule();
    });
    this.#apiServiceInformer = this.#metaInformer(apiServicesGvr, identity, (origin) => {
      if (origin === "live") this.#refreshSoon();
    });
    this.#tasks.push(this.#discoveryLoop());
    if (path) this.#tasks.push(this.#checkpointLoop());
  }

  /**
   * An informer on the kinds that define kinds; a forbidden one only costs the fast path, discovery still works. It
   * stores what `keep` leaves of each object: one of each is held per watched kind.
   */
  #metaInformer(
    gvr: typeof crdsGvr,
    keep: (object: KubeObject) => KubeObject,
    onChange: (origin: string) => void,
  ): Informer<KubeObject> {
    // The watcher's tuning applies here too; the user's transform, indexes and resync are for their kinds only.
    const { transform: _t, indexers: _i, resyncMs: _r, ...watching } = this.#options.informer ?? {};
    const informer = new Informer<KubeObject>(listWatchOf(this.#cluster.client.resource(gvr)), {
      ...watching,
      transform: keep,
      ...definedProps({ logger: this.#options.logger }),
    });
    informer.addHandlers({
      add: (_object, { origin }) => onChange(origin),
      update: (_old, _object, { origin }) => onChange(origin),
      delete: (_object, { origin }) => onChange(origin),
    });
    informer.start(this.#signal);
    return informer;
  }

  #refreshSoon(): void {
    this.#refreshWanted = true;
    this.#refreshNow.abort();
  }

  async #discoveryLoop(): Promise<void> {
    const every = this.#options.discoveryRefreshMs ?? 30_000;
    // A failed refresh is tried again sooner than the period, with backoff up to it; a success forgives at once.
    const backoff = new Backoff({ ...this.#options.informer?.backoff, maxMs: every, resetAfterMs: 0 });
    while (!this.#signal.aborted) {
      this.#refreshWanted = false;
      let wait = every;
      try {
        const snapshot = await this.#cluster.discovery.refresh({ signal: this.#signal });
        this.#discovery = snapshot;
        this.#discovered = preferredResources(snapshot);
        const listed = new Set(this.#discovered.map(groupResource));
        for (const gr of this.#deletedCrds) if (!listed.has(gr)) this.#deletedCrds.delete(gr);
        backoff.healthy();
        this.#schedule();
      } catch (err) {
        if (this.#signal.aborted) return;
        wait = backoff.next();
        this.#log("warn", "watch-all: discovery failed; keeping the kinds known so far", {
          error: (err as Error).message,
        });
      }
      if (this.#refreshWanted) continue;
      this.#refreshNow = new AbortController();
      const wake = this.#refreshNow;
      const onStop = () => wake.abort();
      this.#signal.addEventListener("abort", onStop, { once: true });
      await delay(wait, wake.signal);
      this.#signal.removeEventListener("abort", onStop);
    }
  }

  /** Reconciles soon, once for any number of changes in the meantime. */
  #schedule(): void {
    if (this.#scheduled || this.#signal.aborted) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#signal.aborted) return;
      try {
        this.#reconcile();
      } catch (err) {
        this.#log("error", "watch-all: reconcile failed", { error: (err as Error).message });
      }
    });
  }

  #readCrds(): void {
    this.#crdsChanged = false;
    const now = new Map<string, ApiResource>();
    for (const crd of this.#crdInformer?.store.list() ?? []) {
      const r = crdResource(crd);
      if (r) now.set(groupResource(r), r);
    }
    for (const gr of this.#crdResources.keys()) if (!now.has(gr)) this.#deletedCrds.add(gr);
    this.#crdResources.clear();
    for (const [gr, r] of now) {
      this.#deletedCrds.delete(gr);
      this.#crdResources.set(gr, r);
    }
  }

  /** The kinds to watch now: CRDs (fresher) over discovery, filtered. */
  #desired(): Map<string, ApiResource> {
    const o = this.#options;
    const want = new Map<string, ApiResource>();
    const consider = (r: ApiResource) => {
      if (isWatchable(r) && selected(r, o.include, o.exclude)) want.set(groupResource(r), r);
    };
    for (const r of this.#discovered) {
      const gr = groupResource(r);
      if (this.#deletedCrds.has(gr) || this.#crdResources.has(gr)) continue;
      if (isWanted(r, o)) want.set(gr, r);
    }
    for (const r of this.#crdResources.values()) consider(r);
    return want;
  }

  #reconcile(): void {
    if (this.#crdsChanged) this.#readCrds();
    const want = this.#desired();
    for (const [gr, r] of want) {
      const kind = this.#kinds.get(gr);
      if (kind) kind.want(r);
      else this.#addKind(gr, r);
    }
    if (!this.#unsettled && this.#discovery) {
      this.#unsettled = new Set([...this.#kinds.keys()].filter((gr) => !this.#settled.has(gr)));
      this.#settled.clear();
      if (this.#unsettled.size === 0) this.#initialSynced();
    }
    for (const [gr, kind] of this.#kinds) {
      if (want.has(gr)) continue;
      const r = kind.resource;
      if (!this.#deletedCrds.has(gr) && isUnavailable(this.#discovery, r.group, r.version)) continue;
      kind.remove(this.#deletedCrds.has(gr) ? "its CustomResourceDefinition is gone" : "no longer served");
    }
    this.#forgetVanished(want);
  }

  #addKind(gr: string, r: ApiResource): void {
    const resumed = this.#resumable.get(gr);
    this.#resumable.delete(gr);
    const kind = new KindWatch(
      gr,
      r,
      this.#host,
      resumed ? new Map(Object.entries(resumed.objects)) : undefined,
      resumed?.doubts ? new Map(Object.entries(resumed.doubts)) : undefined,
    );
    this.#kinds.set(gr, kind);
  }

  #ended(kind: KindWatch): void {
    if (this.#kinds.get(kind.gr) !== kind) return;
    this.#kinds.delete(kind.gr);
    // The kind may be wanted again already (a CRD deleted and created anew): a new loop starts from scratch.
    this.#schedule();
  }

  /**
   * Tells the consumer that kinds of its checkpoint that are no longer served (gone while it was stopped) are gone:
   * their objects as DELETED, then KIND_REMOVED. Only once both CRDs and discovery have been read, and never for a
   * kind whose API is unavailable now (it is missing from discovery, not gone).
   */
  #forgetVanished(want: Map<string, ApiResource>): void {
    if (this.#resumable.size === 0 || !this.#discovery) return;
    const crds = this.#crdInformer?.status();
    if (!crds?.synced && !crds?.consecutiveErrors) return;
    for (const [gr, k] of [...this.#resumable]) {
      if (want.has(gr) || this.#kinds.has(gr) || isUnavailable(this.#discovery, k.group, k.version)) continue;
      this.#resumable.delete(gr);
      const info = kindInfo(k);
      const doubted = Object.entries(k.doubts ?? {}).flatMap(([key, uids]) => uids.map((u) => [key, stamp(u, "")]));
      for (const [key, value] of [...Object.entries(k.objects), ...doubted] as [string, string][]) {
        const object = ghost(info, key, value);
        const meta = object.metadata;
        const event: ObjectEvent = {
          type: "DELETED",
          origin: "relist",
          ...info,
          namespace: meta.namespace ?? "",
          name: meta.name ?? "",
          resourceVersion: meta.resourceVersion ?? "",
          object,
          finalStateUnknown: true,
        };
        void this.#emit(event, false);
      }
      const served = this.#crdResources.has(gr) || this.#discovered.some((r) => groupResource(r) === gr);
      const reason = served ? "no longer selected" : "no longer served";
      void this.#emit({ type: "KIND_REMOVED", ...info, reason: `${reason} (since the checkpoint)` }, false);
    }
  }

  #emit(event: WatchAllEvent, silent: boolean): Promise<void> {
    if (silent && !this.#ledger) return Promise.resolve();
    return this.#channel.put({ event, silent });
  }

  #scope(r: ApiResource) {
    return objectScope(r.namespaced, this.#options);
  }

  #newInformer(r: ApiResource): Informer<KubeObject> {
    const scope = this.#scope(r);
    const all = this.#cluster.client.resource(r);
    const source = listWatchOf(scope.namespace ? all.namespace(scope.namespace) : all, scope.selection);
    return new Informer(scope.keep ? filtered(source, scope.keep) : source, this.#informerOptions);
  }

  async #denied(r: ApiResource, signal: AbortSignal): Promise<string | undefined> {
    if (this.#options.accessReview === false) return undefined;
    const { namespace } = this.#scope(r);
    if (await untilAborted(this.#allowedEverywhere(namespace), signal)) return undefined;
    return accessDenied(this.#cluster.transport, { group: r.group, resource: r.resource, namespace }, signal);
  }

  /**
   * Whether list and watch are allowed on every resource of every group (in `namespace`, or cluster-wide): asked once,
   * for all kinds, instead of two reviews a kind (2,000 requests at a thousand kinds). RBAC allows `*` only by a
   * wildcard rule, so a yes holds for each kind. A review that fails counts as a no: each kind is then asked about.
   */
  #allowedEverywhere(namespace: string | undefined): Promise<boolean> {
    const key = namespace ?? "";
    let asked = this.#everywhere.get(key);
    if (!asked) {
      const question = { group: "*", resource: "*", namespace };
      asked = accessDenied(this.#cluster.transport, question, this.#controller.signal).then(
        (reason) => reason === undefined,
        () => false,
      );
      this.#everywhere.set(key, asked);
    }
    return asked;
  }

  /**
   * Resolves once the consumer has taken every kind's initial list: every kind found by the first discovery (CRDs
   * and APIs alike) has delivered its objects and KIND_SYNCED, or has been quarantined or removed, and the loop has
   * asked for the event after that. The watch-all counterpart of an informer's `synced`: what existed when the
   * engine started has been seen. Kinds that come later do not delay it. Rejects if the engine stops first.
   */
  synced(): Promise<void> {
    return this.#initialSync;
  }

  /** Notes that the consumer is about to take `event`: a kind event may complete the initial sync. */
  #taking(event: WatchAllEvent): void {
    if (this.#unsettled?.size === 0) return;
    if (event.type !== "KIND_SYNCED" && event.type !== "KIND_QUARANTINED" && event.type !== "KIND_REMOVED") return;
    const gr = groupResource(event);
    if (!this.#unsettled) {
      this.#settled.add(gr);
      return;
    }
    this.#unsettled.delete(gr);
    if (this.#unsettled.size === 0) this.#initialSynced();
  }

  /** How every kind is doing: state (and why quarantined), objects, last resourceVersion. */
  status(): WatchAllStatus {
    const kinds: KindStatus[] = [...this.#kinds.values()].map((k) => k.status());
    return {
      kinds,
      watched: kinds.length,
      synced: kinds.filter((k) => k.state === "synced").length,
      quarantined: kinds.filter((k) => k.state === "quarantined").length,
      objects: kinds.reduce((n, k) => n + k.objects, 0),
      bytes: kinds.reduce((n, k) => n + k.bytes, 0),
    };
  }

  async #checkpointLoop(): Promise<void> {
    while (await delay(this.#options.checkpointEveryMs ?? 5000, this.#signal)) {
      if (!this.#ledger?.dirty) continue;
      await this.saveCheckpoint().catch((err: Error) =>
        this.#log("error", "watch-all: cannot save the checkpoint", { error: err.message }),
      );
    }
  }

  /** Saves the checkpoint now: what the consumer has handled (it is also saved periodically and on stop). */
  saveCheckpoint(): Promise<void> {
    const path = this.#options.checkpoint;
    const ledger = this.#ledger;
    if (!path || !ledger) return Promise.resolve();
    const save = this.#saving
      .catch(() => {})
      .then(() =>
        writeCheckpoint(path, ledger.snapshot()).catch((err: unknown) => {
          // What that snapshot held is not on disk: the next save (or saveAhead) must write it.
          ledger.unsaved();
          throw err;
        }),
      );
    this.#saving = save;
    return save;
  }

  /**
   * The merged stream; one iteration per engine. An event counts as handled (for the checkpoint) once the loop asks
   * for the next one: the event in hand when the loop is left, by a throw or a `break` alike, is not, and comes again
   * after a restart from the checkpoint. Leaving the loop stops the engine.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<WatchAllEvent> {
    if (this.#iterated) throw new TypeError("a WatchAll stream can be iterated only once");
    this.#iterated = true;
    try {
      for (;;) {
        const next = await this.#channel.take();
        if (next.done) return;
        const { event, silent } = next.value;
        if (this.#options.acknowledge === "manual") {
          // A silent event is handled already, but counts only once everything before it is acknowledged.
          const entry: Pending = { event, silent, acked: silent };
          this.#pending.push(entry);
          if (silent) this.#advance();
          else {
            this.#unacked.set(event, entry);
            this.#ledger?.doubt(event);
          }
        }
        if (!silent) {
          this.#taking(event);
          yield event;
        }
        // Reached only when the consumer asks for the next event: it has handled this one. A loop left by a throw and
        // one left by a `break` look the same from here (both call return()), so neither acknowledges it.
        if (this.#options.acknowledge !== "manual") this.#ledger?.apply(event);
      }
    } finally {
      await this.stop();
      if (this.#ledger?.dirty) {
        await this.saveCheckpoint().catch((err: Error) =>
          this.#log("error", "watch-all: cannot save the checkpoint", { error: err.message }),
        );
      }
    }
  }

  /**
   * With `acknowledge: "manual"`: `event` (one the stream yielded) is handled. The checkpoint takes it, and every
   * event after it that is acknowledged, once every event before it is. An event acknowledged already, or one the stream
   * did not yield, is ignored. May be called after the stream ended: then save with {@link WatchAll.saveCheckpoint}.
   */
  acknowledge(event: WatchAllEvent): void {
    if (this.#options.acknowledge !== "manual") {
      throw new TypeError('acknowledge() needs the engine option acknowledge: "manual"');
    }
    const entry = this.#unacked.get(event);
    if (!entry) return;
    this.#unacked.delete(event);
    entry.acked = true;
    this.#advance();
  }

  /**
   * With `acknowledge: "manual"`: saves the checkpoint if objects were handed out since the last save that the saved
   * checkpoint does not know. Call it before an event leaves the process (a sink's send): should the process die
   * after the receiver got an object, the checkpoint knows it is in doubt, and a restart tells it again, or deletes it
   * if it is gone by then, instead of leaving it with the receiver forever.
   */
  saveAhead(): Promise<void> {
    // Not ahead: the save under way (or the last one) holds every doubt; a failed one has set `ahead` again.
    return this.#ledger?.ahead ? this.saveCheckpoint() : this.#saving.catch(() => {});
  }

  /** Events yielded and not acknowledged yet (`acknowledge: "manual"`). */
  get unacknowledged(): number {
    return this.#unacked.size;
  }

  /** Applies the acknowledged prefix of the stream to the checkpoint. */
  #advance(): void {
    const pending = this.#pending;
    while (this.#pendingHead < pending.length && pending[this.#pendingHead]?.acked) {
      const { event, silent } = pending[this.#pendingHead] as Pending;
      if (!silent) this.#ledger?.settle(event);
      this.#ledger?.apply(event);
      this.#pendingHead++;
    }
    // Compacts now and then rather than shifting on every event.
    if (this.#pendingHead > 1024 && this.#pendingHead * 2 > pending.length) {
      pending.splice(0, this.#pendingHead);
      this.#pendingHead = 0;
    }
  }

  /** Stops every informer, saves the checkpoint, and ends the stream. Calling it again returns the same promise. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#controller.abort();
    this.#channel.close();
    this.#initialSyncFailed(new Error("the watch-all engine stopped before its initial sync"));
    for (const kind of this.#kinds.values()) kind.halt();
    await Promise.all([
      this.#started?.catch(() => {}),
      this.#crdInformer?.stop(),
      this.#apiServiceInformer?.stop(),
      ...[...this.#kinds.values()].map((k) => k.done),
      ...this.#tasks,
    ]);
    await this.saveCheckpoint().catch((err: Error) =>
      this.#log("error", "watch-all: cannot save the checkpoint", { error: err.message }),
    );
  }
}

/** Starts watching every kind of `cluster` until `signal` aborts or the loop is left: `for await (const e of watchAll(c))`. */
export function watchAll(
  cluster: WatchAllCluster,
  options: WatchAllOptions & { signal?: AbortSignal | undefined } = {},
): WatchAll {
  const engine = new WatchAll(cluster, options);
  // A failed start ends the stream with its error; the iterating consumer hears it there.
  engine.start(options.signal).catch(() => {});
  return engine;
}
