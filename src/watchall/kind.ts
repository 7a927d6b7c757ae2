/**
 * One watched kind, followed by one loop: it starts the kind's informer (access review first, a listing slot while it
 * lists, quarantine and backoff while it cannot), moves it to a new preferred version, and removes it, one step at a
 * time. Start, move and removal never overlap, so the consumer's view of each object changes in order: whatever the
 * engine asks for meanwhile (another version, removal) is picked up when the current step ends or is abandoned.
 */
import { Backoff, type BackoffOptions, delay } from "../cache/backoff.js";
import type { EventHandlers, Informer, InformerLogger } from "../cache/informer.js";
import { failureFields } from "../cache/log.js";
import type { Origin } from "../cache/notify.js";
import type { ApiResource } from "../discovery/types.js";
import { ApiError } from "../http/errors.js";
import { objectKey } from "../object/key.js";
import type { KubeObject } from "../object/types.js";
import { definedProps } from "../util/defined.js";
import { ghost, stamp } from "./checkpoint.js";
import { changedPaths, isNoise } from "./diff.js";
import type { Release, Slots } from "./slots.js";
import { type KindEvent, type KindStatus, kindInfo, type ObjectEvent, type WatchAllEvent } from "./types.js";

/** What a {@link KindWatch} needs from its engine. */
export interface KindHost {
  /** Bounds how many kinds list at once. */
  readonly slots: Slots;
  /** Puts an event on the merged stream; resolves once there is room. `silent`: for the checkpoint only. */
  emit(event: WatchAllEvent, silent?: boolean): Promise<void>;
  /** A new, unstarted informer of `r` with the engine's selection. */
  informer(r: ApiResource): Informer<KubeObject>;
  /** Why we may not list and watch `r`; undefined when we may; throws when it cannot tell. */
  denied(r: ApiResource, signal: AbortSignal): Promise<string | undefined>;
  /** Leave out updates that change only bookkeeping. */
  readonly dropNoise: boolean;
  /** Backoff between access reviews of a forbidden kind. */
  readonly backoff: BackoffOptions | undefined;
  readonly log: InformerLogger;
  /** Told once the loop has ended (removed or halted), its informers stopped: the host holds no callback per kind. */
  ended(kind: KindWatch): void;
}

type Extra = Pick<ObjectEvent, "old" | "changedPaths" | "finalStateUnknown">;

/** The version a move left and everything its informer delivered, by key. */
interface Moved {
  readonly from: ApiResource;
  readonly told: Map<string, KubeObject>;
}

/**
 * Whether a store at resourceVersion `rv` is at least as new as one at `told`; false unless both are integers. The API
 * calls resourceVersions opaque, and client-go and kube-rs never order them. Here only two versions of one resource
 * are compared: kube-apiserver keeps every version of a kind, built-in or custom, in one etcd storage, so both are
 * revisions of one etcd, ordered as etcd wrote them. A resourceVersion that is no integer (an aggregated API with
 * storage of its own) is never ordered: the caller then takes the path that needs no order.
 */
function reached(rv: string | undefined, told: string | undefined): boolean {
  const integer = /^(0|[1-9][0-9]*)$/;
  if (rv === undefined || told === undefined || !integer.test(rv) || !integer.test(told)) return false;
  return BigInt(rv) >= BigInt(told);
}

function uidOf(o: KubeObject): string | undefined {
  return typeof o.metadata?.uid === "string" ? o.metadata.uid : undefined;
}

function rvOf(o: KubeObject): string | undefined {
  return typeof o.metadata?.resourceVersion === "string" ? o.metadata.resourceVersion : undefined;
}

/**
 * Puts the object events of one version of a kind on the stream. It is also the handlers of the kind's informer:
 * methods rather than a closure each, since one is held per watched kind.
 */
class Emitter implements EventHandlers<KubeObject> {
  readonly #host: KindHost;
  readonly #r: ApiResource;

  constructor(host: KindHost, r: ApiResource) {
    this.#host = host;
    this.#r = r;
  }

  add(object: KubeObject, { origin }: { origin: Origin }): Promise<void> {
    return this.object("ADDED", object, origin);
  }

  update(old: KubeObject, object: KubeObject, { origin }: { origin: Origin }): Promise<void> {
    const paths = changedPaths(old, object);
    // A resync is asked for: it is delivered even though nothing changed.
    const noise = origin !== "resync" && (paths.length === 0 || isNoise(paths));
    return this.object("MODIFIED", object, origin, { old, changedPaths: paths }, noise && this.#host.dropNoise);
  }

  delete(
    object: KubeObject,
    { origin, finalStateUnknown }: { origin: Origin; finalStateUnknown: boolean },
  ): Promise<void> {
    return this.object("DELETED", object, origin, finalStateUnknown ? { finalStateUnknown } : {});
  }

  object(
    type: ObjectEvent["type"],
    object: KubeObject,
    origin: Origin,
    extra: Extra = {},
    silent = false,
  ): Promise<void> {
    const meta = object.metadata ?? {};
    const event: ObjectEvent = {
      type,
      origin,
      ...kindInfo(this.#r),
      namespace: typeof meta.namespace === "string" ? meta.namespace : "",
      name: typeof meta.name === "string" ? meta.name : "",
      resourceVersion: rvOf(object) ?? "",
      object,
      ...extra,
    };
    return this.#host.emit(event, silent);
  }
}

/** One kind's loop; see the module comment. Create it, then steer it with {@link want}, {@link remove}, {@link halt}. */
export class KindWatch {
  /** `resource.group`. */
  readonly gr: string;
  /** Settles when the loop has ended: removed (KIND_REMOVED delivered) or halted. */
  readonly done: Promise<void>;
  readonly #host: KindHost;
  #desired: ApiResource | undefined;
  #removal = "no longer served";
  /**
   * Aborted whenever the desired version changes or the loop is halted: whatever step runs then is abandoned. Made
   * for a step: a kind waiting for a change holds no signal (an AbortController with its listener maps is a good part
   * of what an idle kind costs).
   */
  #epoch: AbortController | undefined;
  /** Counts {@link want}, {@link remove} and {@link halt} calls that the loop must look at. */
  #wakes = 0;
  /** Resolves the loop's wait for a change. */
  #wakeUp: (() => void) | undefined;
  #halted = false;
  /** The version watched (or being started). */
  #resource: ApiResource;
  #state: KindStatus["state"] = "starting";
  #reason: string | undefined;
  #quarantinedFor: string | undefined;
  /** The informer whose events reach the stream. */
  #informer: Informer<KubeObject> | undefined;
  /** An informer listing, not delivering yet (starting, or a version move). */
  #pending: Informer<KubeObject> | undefined;
  #detach: (() => void) | undefined;
  /** What a previous run delivered (from its checkpoint), until the kind is listed and compared with it. */
  #resume: Map<string, string> | undefined;
  /** The previous run's objects in doubt that its `#resume` could not hold under their key: uids by key. */
  #doubts: ReadonlyMap<string, readonly string[]> | undefined;
  /** What the informer that a version move stopped had delivered, until the new version is listed and compared with it. */
  #moved: Moved | undefined;
  /**
   * A failure with no informer to count it: access reviews that deny the kind (retried at `retryAt`), or a kind that
   * cannot be started at all (not retried until it changes). Cleared once the kind may be listed.
   */
  #fault: { readonly error: ApiError; readonly count: number; readonly retryAt?: number } | undefined;
  /** The failures counted by the kind's informers that are gone: its counters never go back. */
  #retired = { objectErrors: 0, handlerErrors: 0 };

  constructor(
    gr: string,
    r: ApiResource,
    host: KindHost,
    resume?: Map<string, string>,
    doubts?: ReadonlyMap<string, readonly string[]>,
  ) {
    this.gr = gr;
    this.#host = host;
    this.#desired = r;
    this.#resource = r;
    this.#resume = resume;
    this.#doubts = doubts;
    this.done = this.#run();
  }

  /** Follows `r`: a new version moves the watch to it. */
  want(r: ApiResource): void {
    const before = this.#desired;
    this.#desired = r;
    if (before?.version !== r.version) this.#wake();
  }

  /** Removes the kind: its remaining objects are delivered as DELETED, then KIND_REMOVED with `reason`. */
  remove(reason: string): void {
    if (!this.#desired) return;
    this.#desired = undefined;
    this.#removal = reason;
    this.#wake();
  }

  /** Stops the loop without any removal events (the engine is stopping). */
  halt(): void {
    this.#halted = true;
    this.#wake();
  }

  #wake(): void {
    this.#wakes++;
    const epoch = this.#epoch;
    const wakeUp = this.#wakeUp;
    this.#epoch = undefined;
    this.#wakeUp = undefined;
    epoch?.abort();
    wakeUp?.();
  }

  /** Runs one step with a signal that the next wake aborts. */
  async #step(step: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const epoch = new AbortController();
    this.#epoch = epoch;
    try {
      await step(epoch.signal);
    } finally {
      if (this.#epoch === epoch) this.#epoch = undefined;
    }
  }

  /** Resolves at the first wake after the loop had seen `wakes`: at once if there has been one since. */
  #changed(wakes: number): Promise<void> {
    if (this.#wakes !== wakes) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wakeUp = resolve;
    });
  }

  /** The version watched now (or being started). */
  get resource(): ApiResource {
    return this.#resource;
  }

  /** How the kind is doing. */
  status(): KindStatus {
    const delivering = this.#informer?.status();
    const listing = this.#pending?.status();
    const s = delivering ?? listing;
    const failing = this.#state === "synced" && s && s.consecutiveErrors > 0 ? s.lastError?.message : undefined;
    const reason = this.#reason ?? failing;
    const fault = s ? undefined : this.#fault;
    const lastError = s ? s.lastError : fault?.error;
    const nextRetryAt = s ? s.nextRetryAt : fault?.retryAt;
    const sum = (key: "objectErrors" | "handlerErrors") =>
      this.#retired[key] + (delivering?.[key] ?? 0) + (listing?.[key] ?? 0);
    return {
      ...kindInfo(this.#resource),
      state: this.#state,
      objects: delivering?.objects ?? 0,
      bytes: delivering?.bytes ?? 0,
      consecutiveErrors: s?.consecutiveErrors ?? fault?.count ?? 0,
      ...definedProps({
        reason: reason || undefined,
        resourceVersion: s?.resourceVersion || undefined,
        lastError,
        nextRetryAt,
      }),
      objectErrors: sum("objectErrors"),
      handlerErrors: sum("handlerErrors"),
    };
  }

  /** Stops an informer the kind is done with, keeping what it counted. */
  async #retire(informer: Informer<KubeObject>, options?: { drain?: boolean }): Promise<void> {
    await informer.stop(options);
    const counted = informer.status();
    this.#retired = {
      objectErrors: this.#retired.objectErrors + counted.objectErrors,
      handlerErrors: this.#retired.handlerErrors + counted.handlerErrors,
    };
  }

  async #run(): Promise<void> {
    this.#emitKind("KIND_ADDED");
    try {
      for (;;) {
        if (this.#halted) return;
        const want = this.#desired;
        if (!want) break;
        const wakes = this.#wakes;
        try {
          if (!this.#informer) await this.#step((signal) => this.#start(want, signal));
          else if (this.#resource.version !== want.version) await this.#step((signal) => this.#move(want, signal));
          else await this.#changed(wakes);
        } catch (err) {
          // A bug or a resource the client cannot address: reported, then nothing is retried until the kind changes.
          const failure = failureFields(err);
          this.#host.log("error", "watch-all: a kind failed", { kind: this.gr, ...failure });
          if (!this.#informer) {
            this.#fault = {
              error: new ApiError({ kind: "Unknown", status: 0, message: failure.error, cause: err }),
              count: 1,
            };
            this.#quarantine("Unknown", `Unknown: ${failure.error}`);
          }
          await this.#changed(wakes);
        }
      }
      await this.#remove();
    } finally {
      this.#detach?.();
      await Promise.all([this.#pending?.stop(), this.#informer?.stop()]);
      this.#host.ended(this);
    }
  }

  /** Lists the kind at `want` and, once listed, delivers it; returns early when `signal` aborts. */
  async #start(want: ApiResource, signal: AbortSignal): Promise<void> {
    this.#resource = want;
    const slot = await this.#admitted(want, signal);
    if (!slot) return;
    let informer: Informer<KubeObject> | undefined;
    try {
      informer = this.#host.informer(want);
      if (this.#state !== "quarantined") this.#state = "syncing";
      const quarantine = (error: ApiError) => this.#quarantine(error.kind, `${error.kind}: ${error.message}`);
      if (!(await this.#list(informer, slot, signal, quarantine))) return;
      this.#attach(informer);
      informer = undefined;
    } finally {
      slot();
      if (informer) {
        this.#pending = undefined;
        await this.#retire(informer);
      }
    }
  }

  /**
   * A listing slot, once the kind may be listed: a forbidden kind is quarantined and asked about again with backoff.
   * Access reviews hold no slot: they are cheap for the server (no storage read), so hundreds of new kinds are
   * reviewed at once while only the lists wait for slots. Undefined when `signal` aborts first.
   */
  async #admitted(want: ApiResource, signal: AbortSignal): Promise<Release | undefined> {
    const backoff = new Backoff(this.#host.backoff);
    for (;;) {
      let reason: string | undefined;
      try {
        reason = await this.#host.denied(want, signal);
      } catch (err) {
        if (signal.aborted) return undefined;
        // Unable to ask (no authorization API, or not allowed to ask): the list itself will tell.
        this.#host.log("warn", "watch-all: access review failed; listing anyway", {
          kind: this.gr,
          error: (err as Error).message,
        });
      }
      if (!reason) {
        this.#fault = undefined;
        return this.#host.slots.acquire(signal);
      }
      const wait = backoff.next();
      this.#fault = {
        error: new ApiError({ kind: "Forbidden", status: 403, reason: "Forbidden", message: reason }),
        count: (this.#fault?.error.kind === "Forbidden" ? this.#fault.count : 0) + 1,
        retryAt: Date.now() + wait,
      };
      this.#quarantine("Forbidden", reason);
      if (!(await delay(wait, signal))) return undefined;
    }
  }

  /**
   * Starts `informer` and waits until it has listed, holding `slot` meanwhile: the one way a kind holds a listing slot,
   * for a start and a version move alike. The slot is given back once listed, when `signal` aborts, or at the first
   * error before that (`failed` is told): a kind that cannot list retries alone and must not keep others from listing.
   * Resolves whether it listed; the caller stops an informer that did not.
   */
  async #list(
    informer: Informer<KubeObject>,
    slot: Release,
    signal: AbortSignal,
    failed: (error: ApiError) => void,
  ): Promise<boolean> {
    this.#pending = informer;
    const stopErrors = informer.onError((error: ApiError) => {
      if (informer.hasSynced) return;
      failed(error);
      slot();
    });
    try {
      informer.start();
      await informer.synced(signal);
      return true;
    } catch {
      return false;
    } finally {
      slot();
      stopErrors();
    }
  }

  #quarantine(kind: string, reason: string): void {
    const entering = this.#state !== "quarantined" || this.#quarantinedFor !== kind;
    this.#state = "quarantined";
    this.#reason = reason;
    this.#quarantinedFor = kind;
    // A new event when the kind enters quarantine or fails for another kind of reason, not on every retry.
    if (entering) this.#emitKind("KIND_QUARANTINED", { reason });
  }

  /**
   * Delivers a listed informer's objects: all of them, or what differs from what the consumer was told (a resumed
   * checkpoint, or the informer a version move stopped), then its changes.
   */
  #attach(informer: Informer<KubeObject>): void {
    const r = this.#resource;
    const emit = new Emitter(this.#host, r);
    const resume = this.#resume;
    const moved = this.#moved;
    const recovered = this.#state === "quarantined";
    this.#resume = undefined;
    this.#moved = undefined;
    if (moved) {
      if (moved.from.version !== r.version) {
        this.#emitKind("KIND_VERSION_CHANGED", { previousVersion: moved.from.version });
      }
      this.#emitDiff(emit, moved.told, informer, true);
    } else if (resume) {
      const told = new Map<string, KubeObject>();
      for (const [key, value] of resume) told.set(key, ghost(r, key, value));
      this.#emitDoubts(emit, (key) => informer.store.get(key));
      this.#emitDiff(emit, told, informer, false);
    } else {
      for (const object of informer.store.list()) void emit.object("ADDED", object, "initial");
    }
    // Read and subscribed in one synchronous step: no change can fall between the two.
    this.#detach = informer.addHandlers(emit, { replay: false });
    this.#informer = informer;
    this.#pending = undefined;
    this.#state = "synced";
    this.#reason = undefined;
    this.#quarantinedFor = undefined;
    if (!moved || recovered) this.#emitKind("KIND_SYNCED");
  }

  /**
   * Moves the watch to `want`, telling what differs between the two versions rather than every object again. The new
   * version is listed while the old informer still delivers, so a version that cannot be listed yet (its conversion
   * webhook down) costs no live change. Then the old informer is stopped, which freezes what the consumer was told,
   * and the new store is compared with that. The comparison is sound only against a store at least as new: one behind
   * the old watch would undo what was told (an older state, a deleted object back, a new one deleted), and its watch
   * would then tell the same changes again. When the new informer's resourceVersion has reached the old one's (the
   * usual case: it listed later), it is compared at once; else the kind starts afresh at `want`, from a list made
   * after the old informer stopped: newer than anything told, with no ordering of resourceVersions, and the
   * comparison covers what changed in between.
   */
  async #move(want: ApiResource, signal: AbortSignal): Promise<void> {
    const old = this.#informer as Informer<KubeObject>;
    const slot = await this.#host.slots.acquire(signal);
    if (!slot) return;
    let next: Informer<KubeObject> | undefined;
    try {
      const listing = this.#host.informer(want);
      next = listing;
      const unmovable = (error: ApiError) => {
        this.#reason = `cannot move to ${want.version}: ${error.kind}: ${error.message}`;
      };
      if (!(await this.#list(listing, slot, signal, unmovable))) return;
      await this.#retire(old, { drain: true });
      this.#detach?.();
      this.#detach = undefined;
      this.#informer = undefined;
      this.#moved = { from: this.#resource, told: new Map(old.store.list().map((o) => [objectKey(o), o] as const)) };
      this.#resource = want;
      if (!reached(listing.status().resourceVersion, old.status().resourceVersion)) return;
      this.#attach(listing);
      next = undefined;
    } finally {
      slot();
      this.#pending = undefined;
      if (next) await this.#retire(next);
    }
  }

  /** Delivers the remaining objects as DELETED, then KIND_REMOVED. */
  async #remove(): Promise<void> {
    this.#state = "removing";
    const r = this.#resource;
    const emit = new Emitter(this.#host, r);
    const informer = this.#informer;
    if (informer) {
      await informer.stop({ drain: true });
      this.#detach?.();
      this.#detach = undefined;
      for (const object of informer.store.list()) {
        void emit.object("DELETED", object, "live", { finalStateUnknown: true });
      }
    } else if (this.#moved) {
      // Told in the version the move left: the consumer has not heard of another.
      const { from, told } = this.#moved;
      this.#moved = undefined;
      this.#resource = from;
      const emitFrom = new Emitter(this.#host, from);
      for (const object of told.values()) {
        void emitFrom.object("DELETED", object, "live", { finalStateUnknown: true });
      }
    } else if (this.#resume) {
      this.#emitDoubts(emit, () => undefined);
      for (const [key, value] of this.#resume) {
        void emit.object("DELETED", ghost(r, key, value), "relist", { finalStateUnknown: true });
      }
      this.#resume = undefined;
    }
    this.#emitKind("KIND_REMOVED", { reason: this.#removal });
  }

  /**
   * Delivers, as origin "relist", what differs between `told` (what the consumer was given, by key) and `informer`'s
   * store. `knowsOld`: `told` holds whole objects (a version move), so updates say what changed.
   */
  #emitDiff(emit: Emitter, told: Map<string, KubeObject>, informer: Informer<KubeObject>, knowsOld: boolean): void {
    for (const object of informer.store.list()) {
      const key = objectKey(object);
      const was = told.get(key);
      told.delete(key);
      if (!was) {
        void emit.object("ADDED", object, "relist");
        continue;
      }
      const before = uidOf(was);
      const after = uidOf(object);
      if (before && after && before !== after) {
        void emit.object("DELETED", was, "relist", { finalStateUnknown: true });
        void emit.object("ADDED", object, "relist");
      } else if (rvOf(was) !== rvOf(object)) {
        if (!knowsOld) void emit.object("MODIFIED", object, "relist");
        else void emit.update(was, object, { origin: "relist" });
      }
    }
    for (const was of told.values()) {
      void emit.object("DELETED", was, "relist", { finalStateUnknown: true });
    }
  }

  /** Deletes the previous run's objects in doubt that are not there now (`present` finds what a key holds now). */
  #emitDoubts(emit: Emitter, present: (key: string) => KubeObject | undefined): void {
    const r = this.#resource;
    for (const [key, uids] of this.#doubts ?? []) {
      const now = present(key);
      for (const uid of uids) {
        if (now && uidOf(now) === uid) continue;
        void emit.object("DELETED", ghost(r, key, stamp(uid, "")), "relist", { finalStateUnknown: true });
      }
    }
    this.#doubts = undefined;
  }

  #emitKind(type: KindEvent["type"], extra: Pick<KindEvent, "reason" | "previousVersion"> = {}): void {
    void this.#host.emit({ type, ...kindInfo(this.#resource), ...extra });
  }
}
