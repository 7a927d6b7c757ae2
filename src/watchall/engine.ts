/**
 * The watch-all engine: one informer per served kind, found at run time and followed as kinds come, change version
 * and go, merged into one ordered stream of events. CRDs and APIServices are watched, and discovery is refreshed
 * periodically as the safety net. A kind that cannot be listed (forbidden, conversion webhook down, aggregated API
 * unavailable) is quarantined with a reason and retried with backoff while every other kind syncs and streams.
 */
import { Backoff, delay } from "../cache/backoff.js";
import { Informer, type InformerLogger, type InformerOptions } from "../cache/informer.js";
import { type ListWatch, listWatchOf } from "../cache/watcher.js";
import type { DynamicClient } from "../client/resource.js";
import type { DiscoveryClient } from "../discovery/client.js";
import { isBuiltinGroup, preferredResources } from "../discovery/snapshot-mapper.js";
import type { ApiResource } from "../discovery/types.js";
import type { ApiError } from "../http/errors.js";
import type { Transport } from "../http/transport.js";
import { objectKey } from "../object/key.js";
import type { KubeObject } from "../object/types.js";
import { Channel } from "./channel.js";
import { type Checkpoint, type CheckpointKind, readCheckpoint, stamp, unstamp, writeCheckpoint } from "./checkpoint.js";
import { crdResource } from "./crds.js";
import { changedPaths, isNoise } from "./diff.js";
import { isWatchable, selected } from "./filter.js";
import {
  groupResource,
  type KindEvent,
  type KindFilter,
  type KindStatus,
  kindInfo,
  type ObjectEvent,
  type WatchAllEvent,
  type WatchAllStatus,
} from "./types.js";

/** Options of the watch-all engine. */
export interface WatchAllOptions {
  /** Only kinds these name (by group, kind/resource or category). */
  readonly include?: KindFilter;
  /** Never kinds these name. */
  readonly exclude?: KindFilter;
  /** Built-in kinds too: every listable, watchable resource discovery shows (default: custom kinds only). */
  readonly allResources?: boolean;
  /** Watch one namespace only (cluster-scoped kinds are then left out). */
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Metadata only: cheap wide watching. */
  readonly metadataOnly?: boolean;
  /** Initial lists at once; default 4. */
  readonly concurrency?: number;
  /** Discovery refresh period, the safety net behind the CRD and APIService watches; default 30 s. */
  readonly discoveryRefreshMs?: number;
  /** Leave out updates that change only bookkeeping (resourceVersion, managedFields); default true. */
  readonly dropNoise?: boolean;
  /** Check list and watch rights with a SelfSubjectAccessReview before watching a kind; default true. */
  readonly accessReview?: boolean;
  /** Resume from (and keep saving to) this checkpoint file. */
  readonly checkpoint?: string;
  /** How often the checkpoint is saved; default 5 s (and always on stop). */
  readonly checkpointEveryMs?: number;
  /** Events buffered for the consumer before informers are slowed down; default 1024. */
  readonly bufferSize?: number;
  /** Options for every informer (resync, watcher tuning). */
  readonly informer?: InformerOptions<KubeObject>;
  readonly logger?: InformerLogger;
}

/** What the engine needs of a cluster (a `Cluster` from `connect()` has all three). */
export interface WatchAllCluster {
  readonly client: DynamicClient;
  readonly discovery: DiscoveryClient;
  readonly transport: Transport;
}

interface Kind {
  resource: ApiResource;
  state: KindStatus["state"];
  reason?: string;
  informer?: Informer<KubeObject>;
  detach?: () => void;
  /** Set when the kind is being removed or replaced: pending work for it must stop. */
  retired: boolean;
}

const crds = { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" };
const apiServices = { group: "apiregistration.k8s.io", version: "v1", resource: "apiservices" };

/** A counting semaphore: bounds how many initial lists run at once. */
class Slots {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = Math.max(1, n);
  }
  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}

/** Watches every kind; iterate it for the merged stream. Start with {@link WatchAll.start}, end with `stop()`. */
export class WatchAll implements AsyncIterable<WatchAllEvent> {
  readonly #cluster: WatchAllCluster;
  readonly #options: WatchAllOptions;
  readonly #channel: Channel<WatchAllEvent>;
  readonly #kinds = new Map<string, Kind>();
  readonly #slots: Slots;
  readonly #controller = new AbortController();
  readonly #crdResources = new Map<string, ApiResource>();
  /** Kinds whose CRD was deleted, kept out until discovery stops listing them. */
  readonly #deletedCrds = new Set<string>();
  #discovered: ApiResource[] = [];
  #crdInformer: Informer<KubeObject> | undefined;
  #apiServiceInformer: Informer<KubeObject> | undefined;
  #reconciling: Promise<void> | undefined;
  #again = false;
  #checkpoint: Checkpoint | undefined;
  /** What the consumer has been given, per kind, when checkpointing. */
  readonly #seen = new Map<string, { version: string; resourceVersion?: string; objects: Map<string, string> }>();
  #tasks: Promise<unknown>[] = [];
  #started = false;

  constructor(cluster: WatchAllCluster, options: WatchAllOptions = {}) {
    this.#cluster = cluster;
    this.#options = options;
    this.#channel = new Channel(options.bufferSize ?? 1024);
    this.#slots = new Slots(options.concurrency ?? 4);
  }

  get #signal(): AbortSignal {
    return this.#controller.signal;
  }

  #log(level: "info" | "warn" | "error", message: string, fields: Record<string, unknown> = {}): void {
    try {
      this.#options.logger?.(level, message, fields);
    } catch {
      // A broken logger must not stop the engine.
    }
  }

  /** Starts following kinds; `signal` (optional) stops the engine when it aborts. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    signal?.addEventListener("abort", () => void this.stop(), { once: true });
    if (this.#options.checkpoint) this.#checkpoint = await readCheckpoint(this.#options.checkpoint);
    this.#crdInformer = this.#metaInformer(crds, () => this.#onCrdsChanged());
    this.#apiServiceInformer = this.#metaInformer(apiServices, () => this.#schedule());
    this.#tasks.push(this.#refreshLoop());
    if (this.#options.checkpoint) this.#tasks.push(this.#checkpointLoop(this.#options.checkpoint));
  }

  /** An informer on the kinds that define kinds; a forbidden one only costs the fast path, discovery still works. */
  #metaInformer(gvr: typeof crds, onChange: () => void): Informer<KubeObject> {
    const informer = new Informer<KubeObject>(listWatchOf(this.#cluster.client.resource(gvr)), {
      ...this.#options.informer,
      ...(this.#options.logger ? { logger: this.#options.logger } : {}),
    });
    informer.addHandlers({ add: onChange, update: onChange, delete: onChange });
    informer.start(this.#signal);
    return informer;
  }

  #onCrdsChanged(): void {
    const now = new Map<string, ApiResource>();
    for (const crd of this.#crdInformer?.store.list() ?? []) {
      const r = crdResource(crd);
      if (r) now.set(groupResource(r), r);
    }
    for (const gr of this.#crdResources.keys()) if (!now.has(gr)) this.#deletedCrds.add(gr);
    for (const gr of now.keys()) this.#deletedCrds.delete(gr);
    this.#crdResources.clear();
    for (const [gr, r] of now) this.#crdResources.set(gr, r);
    this.#schedule();
  }

  async #refreshLoop(): Promise<void> {
    const every = this.#options.discoveryRefreshMs ?? 30_000;
    do {
      try {
        const snapshot = await this.#cluster.discovery.refresh({ signal: this.#signal });
        this.#discovered = preferredResources(snapshot);
        const listed = new Set(this.#discovered.map(groupResource));
        for (const gr of this.#deletedCrds) if (!listed.has(gr)) this.#deletedCrds.delete(gr);
        this.#schedule();
      } catch (err) {
        if (this.#signal.aborted) return;
        this.#log("warn", "discovery failed; keeping the kinds known so far", { error: (err as Error).message });
      }
    } while (await delay(every, this.#signal));
  }

  /** Runs a reconcile now, or once more after the one running. */
  #schedule(): void {
    if (this.#signal.aborted) return;
    if (this.#reconciling) {
      this.#again = true;
      return;
    }
    this.#reconciling = (async () => {
      do {
        this.#again = false;
        try {
          this.#reconcile();
        } catch (err) {
          this.#log("error", "watch-all reconcile failed", { error: (err as Error).message });
        }
        await Promise.resolve();
      } while (this.#again && !this.#signal.aborted);
      this.#reconciling = undefined;
    })();
  }

  /** The kinds to watch now: CRDs (fresher) over discovery, filtered. */
  #desired(): Map<string, ApiResource> {
    const o = this.#options;
    const want = new Map<string, ApiResource>();
    const consider = (r: ApiResource) => {
      if (!isWatchable(r) || r.resource.includes("/")) return;
      if (o.namespace && !r.namespaced) return;
      if (!selected(r, o.include, o.exclude)) return;
      want.set(groupResource(r), r);
    };
    for (const r of this.#discovered) {
      const gr = groupResource(r);
      if (this.#deletedCrds.has(gr)) continue;
      if (o.allResources || !isBuiltinGroup(r.group) || this.#crdResources.has(gr)) consider(r);
    }
    for (const r of this.#crdResources.values()) consider(r);
    return want;
  }

  #reconcile(): void {
    const want = this.#desired();
    for (const [gr, r] of want) {
      const kind = this.#kinds.get(gr);
      if (!kind) this.#addKind(gr, r);
      else if (kind.resource.version !== r.version) this.#track(this.#switchVersion(gr, kind, r));
    }
    for (const [gr, kind] of this.#kinds)
      if (!want.has(gr)) this.#track(this.#removeKind(gr, kind, "no longer served"));
  }

  #track(task: Promise<unknown>): void {
    const guarded = task.catch((err) => this.#log("error", "watch-all task failed", { error: (err as Error).message }));
    this.#tasks.push(guarded);
    void guarded.finally(() => {
      this.#tasks = this.#tasks.filter((t) => t !== guarded);
    });
  }

  #emitKind(type: KindEvent["type"], r: ApiResource, extra: { reason?: string; previousVersion?: string } = {}): void {
    void this.#channel.put({ type, ...kindInfo(r), ...extra });
  }

  #addKind(gr: string, r: ApiResource): void {
    const kind: Kind = { resource: r, state: "starting", retired: false };
    this.#kinds.set(gr, kind);
    this.#emitKind("KIND_ADDED", r);
    this.#track(this.#startKind(gr, kind));
  }

  #source(r: ApiResource): ListWatch<KubeObject> {
    const base = this.#cluster.client.resource(r);
    const client = this.#options.namespace && r.namespaced ? base.namespace(this.#options.namespace) : base;
    const o = this.#options;
    return listWatchOf(client, {
      ...(o.labelSelector ? { labelSelector: o.labelSelector } : {}),
      ...(o.fieldSelector ? { fieldSelector: o.fieldSelector } : {}),
      ...(o.metadataOnly ? { metadataOnly: true } : {}),
    });
  }

  #newInformer(r: ApiResource): Informer<KubeObject> {
    return new Informer(this.#source(r), {
      ...this.#options.informer,
      ...(this.#options.logger ? { logger: this.#options.logger } : {}),
    });
  }

  /** Whether the user may list and watch `r`; a reason when not. */
  async #denied(r: ApiResource): Promise<string | undefined> {
    if (this.#options.accessReview === false) return undefined;
    for (const verb of ["list", "watch"]) {
      const review = (await this.#cluster.transport.json({
        method: "POST",
        path: "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        body: {
          apiVersion: "authorization.k8s.io/v1",
          kind: "SelfSubjectAccessReview",
          spec: {
            resourceAttributes: {
              group: r.group,
              resource: r.resource,
              verb,
              ...(this.#options.namespace && r.namespaced ? { namespace: this.#options.namespace } : {}),
            },
          },
        },
        signal: this.#signal,
      })) as { status?: { allowed?: boolean; reason?: string } };
      if (!review.status?.allowed) {
        return `forbidden: cannot ${verb} ${groupResource(r)}${review.status?.reason ? ` (${review.status.reason})` : ""}`;
      }
    }
    return undefined;
  }

  #quarantine(kind: Kind, reason: string): void {
    if (kind.state === "quarantined" && kind.reason === reason) return;
    kind.state = "quarantined";
    kind.reason = reason;
    this.#emitKind("KIND_QUARANTINED", kind.resource, { reason });
  }

  /**
   * Starts a kind's informer under the concurrency bound: checks rights, lists, and once synced hands its objects to
   * the stream. A kind that fails gives its slot back at once and keeps trying with backoff.
   */
  async #startKind(gr: string, kind: Kind): Promise<void> {
    const backoff = new Backoff(this.#options.informer?.backoff);
    let release = await this.#slots.acquire();
    try {
      for (;;) {
        if (kind.retired || this.#signal.aborted) return;
        let reason: string | undefined;
        try {
          reason = await this.#denied(kind.resource);
        } catch (err) {
          reason = `access review failed: ${(err as ApiError).message}`;
        }
        if (!reason) break;
        this.#quarantine(kind, reason);
        release();
        if (!(await delay(backoff.next(), this.#signal))) return;
        release = await this.#slots.acquire();
      }
      if (kind.retired) return;
      const informer = this.#newInformer(kind.resource);
      kind.informer = informer;
      kind.state = "syncing";
      const stopErrors = informer.onError((error) => {
        if (!informer.hasSynced) {
          this.#quarantine(kind, `${error.kind}: ${error.message}`);
          release();
        }
      });
      informer.start(this.#signal);
      try {
        await informer.synced(this.#signal);
      } catch {
        return;
      } finally {
        stopErrors();
        release();
      }
      if (kind.retired) return;
      this.#attach(gr, kind, informer, this.#checkpoint?.kinds[gr]);
    } finally {
      release();
    }
  }

  /** Hands a synced informer's objects to the stream, then its changes; both in one synchronous step. */
  #attach(gr: string, kind: Kind, informer: Informer<KubeObject>, resumeFrom?: CheckpointKind): void {
    const r = kind.resource;
    if (resumeFrom) {
      this.#diffInto(gr, r, new Map(Object.entries(resumeFrom.objects)), informer);
      kind.detach = informer.addHandlers(this.#handlers(gr, r), { replay: false });
    } else {
      kind.detach = informer.addHandlers(this.#handlers(gr, r));
    }
    kind.state = "synced";
    kind.reason = undefined;
    this.#emitKind("KIND_SYNCED", r);
  }

  /** Emits what differs between what the consumer was told (`before`: key -> stamp) and `informer`'s store. */
  #diffInto(gr: string, r: ApiResource, before: Map<string, string>, informer: Informer<KubeObject>): void {
    for (const object of informer.store.list()) {
      const key = objectKey(object);
      const was = before.get(key);
      before.delete(key);
      const meta = object.metadata ?? {};
      if (was === undefined) this.#emitObject(gr, r, "ADDED", object, "relist");
      else {
        const prev = unstamp(was);
        if (meta.uid && prev.uid && prev.uid !== meta.uid) {
          this.#emitObject(gr, r, "DELETED", ghost(object, prev.uid, prev.resourceVersion), "relist", {
            finalStateUnknown: true,
          });
          this.#emitObject(gr, r, "ADDED", object, "relist");
        } else if (prev.resourceVersion !== meta.resourceVersion) this.#emitObject(gr, r, "MODIFIED", object, "relist");
      }
    }
    for (const [key, was] of before) {
      const { uid, resourceVersion } = unstamp(was);
      const [ns, name] = key.includes("/") ? key.split("/") : ["", key];
      const object: KubeObject = {
        apiVersion: r.group ? `${r.group}/${r.version}` : r.version,
        kind: r.kind,
        metadata: { name: name ?? "", ...(ns ? { namespace: ns } : {}), uid, resourceVersion },
      };
      this.#emitObject(gr, r, "DELETED", object, "relist", { finalStateUnknown: true });
    }
  }

  #handlers(gr: string, r: ApiResource) {
    return {
      add: (object: KubeObject, { origin }: { origin: ObjectEvent["origin"] }) =>
        this.#emitObject(gr, r, "ADDED", object, origin),
      update: (old: KubeObject, object: KubeObject, { origin }: { origin: ObjectEvent["origin"] }) => {
        const paths = changedPaths(old, object);
        if (origin !== "resync" && this.#options.dropNoise !== false && (paths.length === 0 || isNoise(paths))) return;
        return this.#emitObject(gr, r, "MODIFIED", object, origin, { old, changedPaths: paths });
      },
      delete: (object: KubeObject, info: { origin: ObjectEvent["origin"]; finalStateUnknown: boolean }) =>
        this.#emitObject(gr, r, "DELETED", object, info.origin, { finalStateUnknown: info.finalStateUnknown }),
    };
  }

  #emitObject(
    gr: string,
    r: ApiResource,
    type: ObjectEvent["type"],
    object: KubeObject,
    origin: ObjectEvent["origin"],
    extra: { old?: KubeObject; changedPaths?: readonly string[]; finalStateUnknown?: boolean } = {},
  ): Promise<void> {
    const meta = object.metadata ?? {};
    const event: ObjectEvent = {
      type,
      origin,
      ...kindInfo(r),
      namespace: meta.namespace ?? "",
      name: meta.name ?? "",
      resourceVersion: meta.resourceVersion ?? "",
      object,
      ...extra,
    };
    if (this.#options.checkpoint) this.#record(gr, r, event);
    return this.#channel.put(event);
  }

  /** Keeps the checkpoint's view of what the consumer has been given. */
  #record(gr: string, r: ApiResource, e: ObjectEvent): void {
    let seen = this.#seen.get(gr);
    if (!seen) {
      seen = { version: r.version, objects: new Map(Object.entries(this.#checkpoint?.kinds[gr]?.objects ?? {})) };
      this.#seen.set(gr, seen);
    }
    const key = objectKey(e.object);
    if (e.type === "DELETED") seen.objects.delete(key);
    else seen.objects.set(key, stamp(e.object.metadata?.uid, e.resourceVersion));
    seen.version = r.version;
    seen.resourceVersion = e.resourceVersion || seen.resourceVersion;
  }

  /** Moves a kind's watch to a new preferred version without replaying its objects as new. */
  async #switchVersion(gr: string, kind: Kind, r: ApiResource): Promise<void> {
    const previous = kind.resource;
    const old = kind.informer;
    kind.resource = r;
    if (!old || kind.state !== "synced") {
      // Not watching yet at the old version: start over at the new one.
      kind.retired = true;
      await old?.stop();
      const fresh: Kind = { resource: r, state: "starting", retired: false };
      this.#kinds.set(gr, fresh);
      this.#track(this.#startKind(gr, fresh));
      return;
    }
    const next = this.#newInformer(r);
    next.start(this.#signal);
    try {
      await next.synced(this.#signal);
    } catch {
      await next.stop();
      return;
    }
    if (this.#kinds.get(gr) !== kind || kind.retired) {
      await next.stop();
      return;
    }
    await old.stop({ drain: true });
    kind.detach?.();
    const told = new Map(
      old.store.list().map((o) => [objectKey(o), stamp(o.metadata?.uid, o.metadata?.resourceVersion)]),
    );
    this.#emitKind("KIND_VERSION_CHANGED", r, { previousVersion: previous.version });
    this.#diffInto(gr, r, told, next);
    kind.informer = next;
    kind.detach = next.addHandlers(this.#handlers(gr, r), { replay: false });
  }

  /** Stops a kind for good and tells the consumer every object it had is gone. */
  async #removeKind(gr: string, kind: Kind, reason: string): Promise<void> {
    kind.retired = true;
    this.#kinds.delete(gr);
    const informer = kind.informer;
    if (informer) {
      await informer.stop({ drain: true });
      kind.detach?.();
      if (kind.state === "synced") {
        for (const object of informer.store.list()) {
          void this.#emitObject(gr, kind.resource, "DELETED", object, "live", { finalStateUnknown: true });
        }
      }
    }
    this.#seen.delete(gr);
    this.#emitKind("KIND_REMOVED", kind.resource, { reason });
  }

  /** How every kind is doing. */
  status(): WatchAllStatus {
    const kinds: KindStatus[] = [...this.#kinds.values()].map((k) => {
      const s = k.informer?.status();
      return {
        ...kindInfo(k.resource),
        state: k.state,
        ...(k.reason ? { reason: k.reason } : {}),
        objects: s?.objects ?? 0,
        ...(s?.resourceVersion ? { resourceVersion: s.resourceVersion } : {}),
        errors: s?.errors ?? 0,
      };
    });
    return {
      kinds,
      found: kinds.length,
      synced: kinds.filter((k) => k.state === "synced").length,
      quarantined: kinds.filter((k) => k.state === "quarantined").length,
      objects: kinds.reduce((n, k) => n + k.objects, 0),
    };
  }

  #snapshotCheckpoint(): Checkpoint {
    const kinds: Record<string, CheckpointKind> = { ...(this.#checkpoint?.kinds ?? {}) };
    for (const [gr, seen] of this.#seen) {
      kinds[gr] = {
        version: seen.version,
        ...(seen.resourceVersion ? { resourceVersion: seen.resourceVersion } : {}),
        objects: Object.fromEntries(seen.objects),
      };
    }
    return { format: 1, kinds };
  }

  async #checkpointLoop(path: string): Promise<void> {
    while (await delay(this.#options.checkpointEveryMs ?? 5000, this.#signal)) {
      await writeCheckpoint(path, this.#snapshotCheckpoint()).catch((err: Error) =>
        this.#log("error", "cannot save the checkpoint", { path, error: err.message }),
      );
    }
  }

  /** Saves the checkpoint now (it is also saved periodically and on stop). */
  async saveCheckpoint(): Promise<void> {
    if (this.#options.checkpoint) await writeCheckpoint(this.#options.checkpoint, this.#snapshotCheckpoint());
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchAllEvent> {
    try {
      for (let next = await this.#channel.take(); !next.done; next = await this.#channel.take()) yield next.value;
    } finally {
      await this.stop();
    }
  }

  /** Stops every informer, saves the checkpoint, and ends the stream. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#signal.aborted) return;
    this.#controller.abort();
    const informers = [
      this.#crdInformer,
      this.#apiServiceInformer,
      ...[...this.#kinds.values()].map((k) => k.informer),
    ];
    await Promise.all(informers.map((i) => i?.stop()));
    await Promise.all(this.#tasks);
    if (this.#options.checkpoint) await this.saveCheckpoint();
    this.#channel.close();
  }
}

/** A minimal stand-in for an object whose last state the consumer never saw: its name, namespace, uid and version. */
function ghost(current: KubeObject, uid: string, resourceVersion: string): KubeObject {
  const meta = current.metadata ?? {};
  return {
    apiVersion: current.apiVersion,
    kind: current.kind,
    metadata: {
      name: meta.name ?? "",
      ...(meta.namespace ? { namespace: meta.namespace } : {}),
      uid,
      resourceVersion,
    },
  };
}

/** Watches every kind of `cluster` until `signal` aborts or the loop is left: `for await (const e of watchAll(c))`. */
export function watchAll(cluster: WatchAllCluster, options: WatchAllOptions & { signal?: AbortSignal } = {}): WatchAll {
  const engine = new WatchAll(cluster, options);
  void engine.start(options.signal);
  return engine;
}
