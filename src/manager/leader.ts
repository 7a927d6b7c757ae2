/**
 * Leader election on a `coordination.k8s.io/v1` Lease, with client-go's `tools/leaderelection` semantics and
 * controller-runtime's defaults: acquire by create-or-update under optimistic concurrency, renew every retry period,
 * stop leading the moment a renewal has not succeeded within the renew deadline, release the Lease on a graceful stop.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { failureFields, type Logger, type LoggerOption, loggerOf } from "../cache/log.js";
import type { DynamicClient, ResourceClient } from "../client/resource.js";
import { isAlreadyExists, isConflict, isNotFound } from "../http/errors.js";
import type { KubeObject } from "../object/types.js";
import { type ClockTimer, systemTimerClock, type TimerClock } from "../queue/clock.js";
import { atDeadline } from "./deadline.js";
import {
  acquireRetryDelay,
  claimRecord,
  defaultLeaseTiming,
  heldByOther,
  type LeaseRecord,
  type LeaseTiming,
  leadingDeadline,
  microTime,
  type Observation,
  observe,
  recordOf,
  releaseRecord,
  validateLeaseTiming,
} from "./lease.js";

/** Options of a {@link LeaderElector}. */
export interface LeaderElectorOptions {
  /** Namespace of the Lease. */
  readonly namespace: string;
  /** Name of the Lease: one per set of replicas that elect among themselves. */
  readonly name: string;
  /** This candidate's identity, unique among the replicas; default the host name plus `_` and a random UUID. */
  readonly identity?: string | undefined;
  /** How long others wait after the last renewal they saw before they take over; whole seconds; default 15 s. */
  readonly leaseDurationMs?: number | undefined;
  /** How long the leader keeps leading without a successful renewal; below the lease duration; default 10 s. */
  readonly renewDeadlineMs?: number | undefined;
  /** How often candidates try to acquire and the leader renews; default 2 s. */
  readonly retryPeriodMs?: number | undefined;
  /**
   * Called when this candidate becomes the leader. `signal` aborts the moment leadership ends (renewal failed past the
   * renew deadline, the Lease was taken, or the elector is stopping): stop acting on it at once. A promise returned is
   * awaited before the Lease is released on a graceful stop, so that the next leader never overlaps with its wind-down.
   */
  readonly onStartedLeading?: ((signal: AbortSignal) => void | Promise<void>) | undefined;
  /** Called once when this candidate stops leading: at once on loss, after the release on a graceful stop. */
  readonly onStoppedLeading?: (() => void) | undefined;
  /** Called when the holder seen on the Lease changes (this candidate included). */
  readonly onNewLeader?: ((identity: string) => void) | undefined;
  /** Where failed tries and transitions are logged; default the library's stderr logger (warnings and errors). */
  readonly logger?: LoggerOption | undefined;
  /** The monotonic clock timing decisions are made on; tests pass a {@link ManualClock}. */
  readonly clock?: TimerClock | undefined;
  /** Milliseconds since the epoch, for the Lease's timestamps; default `Date.now`. */
  readonly wallClock?: (() => number) | undefined;
}

/** What a {@link LeaderElector} knows now, e.g. for a `leader_election_master_status` gauge. */
export interface LeaderElectionStatus {
  /** This candidate's identity. */
  readonly identity: string;
  /** Whether this candidate leads now. */
  readonly leading: boolean;
  /** The holder last seen on the Lease; undefined when none was seen or the Lease is released. */
  readonly leader: string | undefined;
  /** Lease name, as `namespace/name`. */
  readonly lease: string;
}

const leasesResource = { group: "coordination.k8s.io", version: "v1", resource: "leases", namespaced: true } as const;

/** What one acquire-or-renew try found. */
type Try =
  | { readonly kind: "held"; readonly sentAt: number }
  | { readonly kind: "taken" }
  | { readonly kind: "conflict" };

/**
 * Elects one leader among replicas through a Lease. `run` acquires (retrying every retry period), calls
 * `onStartedLeading`, renews, and returns once leadership ended: on loss, as client-go does (exit the process, as
 * controller-runtime's manager does, or call `run` again to stand again), or when the signal fired and the Lease was
 * released.
 */
export class LeaderElector {
  /** This candidate's identity on the Lease. */
  readonly identity: string;
  readonly #leases: ResourceClient;
  readonly #name: string;
  readonly #namespace: string;
  readonly #timing: LeaseTiming;
  readonly #options: LeaderElectorOptions;
  readonly #clock: TimerClock;
  readonly #wall: () => number;
  readonly #log: Logger | undefined;
  #observation: Observation | undefined;
  /** The Lease as last read or written: its resourceVersion makes the leader's renewals conditional. */
  #lease: KubeObject | undefined;
  #leading = false;
  #reportedLeader: string | undefined;
  #running = false;

  /** An elector on the Lease `options.namespace/options.name`; throws on timing that could allow two leaders. */
  constructor(client: DynamicClient, options: LeaderElectorOptions) {
    this.#timing = {
      leaseDurationMs: options.leaseDurationMs ?? defaultLeaseTiming.leaseDurationMs,
      renewDeadlineMs: options.renewDeadlineMs ?? defaultLeaseTiming.renewDeadlineMs,
      retryPeriodMs: options.retryPeriodMs ?? defaultLeaseTiming.retryPeriodMs,
    };
    validateLeaseTiming(this.#timing);
    if (!options.name || !options.namespace)
      throw new RangeError("leader election: the Lease needs a name and a namespace");
    this.identity = options.identity ?? `${hostname()}_${randomUUID()}`;
    if (this.identity === "") throw new RangeError("leader election: the identity must not be empty");
    this.#name = options.name;
    this.#namespace = options.namespace;
    this.#leases = client.resource(leasesResource).namespace(options.namespace);
    this.#options = options;
    this.#clock = options.clock ?? systemTimerClock;
    this.#wall = options.wallClock ?? Date.now;
    this.#log = loggerOf(options.logger);
  }

  /** Whether this candidate leads now. */
  isLeader(): boolean {
    return this.#leading;
  }

  /** The holder last seen on the Lease, this candidate included; undefined when none. */
  leader(): string | undefined {
    return this.#reportedLeader;
  }

  /** A snapshot of the election as this candidate sees it. */
  status(): LeaderElectionStatus {
    return {
      identity: this.identity,
      leading: this.#leading,
      leader: this.#reportedLeader,
      lease: `${this.#namespace}/${this.#name}`,
    };
  }

  /**
   * Stands for election until `signal` fires or leadership is lost; resolves once this candidate no longer leads and
   * its `onStartedLeading` work has settled. One run at a time.
   */
  async run(signal?: AbortSignal): Promise<void> {
    if (this.#running) throw new Error("leader election: this elector is already running");
    this.#running = true;
    try {
      if (await this.#acquire(signal)) await this.#lead(signal);
    } finally {
      this.#running = false;
    }
  }

  async #acquire(signal: AbortSignal | undefined): Promise<boolean> {
    const signals = signal ? [signal] : [];
    while (!signal?.aborted) {
      try {
        const result = await this.#tryAcquireOrRenew(signal, this.#timing.renewDeadlineMs);
        if (result.kind === "held") {
          this.#startLeading(result.sentAt);
          return true;
        }
      } catch (err) {
        if (!signal?.aborted) this.#log?.("warn", "leader election: acquiring the lease failed", this.#fields(err));
      }
      await pause(this.#clock, acquireRetryDelay(this.#timing.retryPeriodMs, Math.random()), signals);
    }
    return false;
  }

  #deadline = 0;
  #deadlineTimer: ClockTimer | undefined;
  /** Aborts when leadership ends for any reason; renew requests run under it, so that a loss cancels them. */
  #lost = new AbortController();

  #startLeading(sentAt: number): void {
    this.#lost = new AbortController();
    this.#leading = true;
    this.#armDeadline(sentAt);
    this.#log?.("info", "leader election: acquired the lease", this.#fields());
  }

  #armDeadline(sentAt: number): void {
    this.#deadline = leadingDeadline(sentAt, this.#timing.renewDeadlineMs);
    this.#deadlineTimer?.cancel();
    // Fires at the deadline itself, even while a renewal hangs: leading past it could overlap the next leader.
    this.#deadlineTimer = atDeadline(this.#clock, this.#deadline, () =>
      this.#lose("the lease was not renewed within the renew deadline"),
    );
  }

  #stoppedCalled = false;

  #lose(reason: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#deadlineTimer?.cancel();
    this.#lost.abort();
    this.#log?.("error", "leader election: lost the lease", { ...this.#fields(), reason });
    this.#stopped();
  }

  #stopped(): void {
    if (this.#stoppedCalled) return;
    this.#stoppedCalled = true;
    this.#callback("onStoppedLeading", () => this.#options.onStoppedLeading?.());
  }

  async #lead(signal: AbortSignal | undefined): Promise<void> {
    this.#stoppedCalled = false;
    const lost = this.#lost.signal;
    const work = new AbortController();
    const stopWork = () => work.abort();
    lost.addEventListener("abort", stopWork, { once: true });
    signal?.addEventListener("abort", stopWork, { once: true });
    if (signal?.aborted) work.abort();
    // Aborts once a graceful stop may release the Lease: the signal fired and the leader's work has wound down.
    const releasable = new AbortController();
    const settled = Promise.resolve()
      .then(() => this.#options.onStartedLeading?.(work.signal))
      .catch((err: unknown) => this.#log?.("error", "leader election: onStartedLeading failed", this.#fields(err)))
      .finally(() => {
        if (signal?.aborted) releasable.abort();
        else signal?.addEventListener("abort", () => releasable.abort(), { once: true });
      });
    try {
      while (this.#leading && !releasable.signal.aborted) {
        await pause(this.#clock, this.#timing.retryPeriodMs, [lost, releasable.signal]);
        if (!this.#leading || releasable.signal.aborted) break;
        await this.#renew();
      }
      if (this.#leading) await this.#release();
      this.#leading = false;
      this.#deadlineTimer?.cancel();
      this.#stopped();
      await settled;
    } finally {
      lost.removeEventListener("abort", stopWork);
      signal?.removeEventListener("abort", stopWork);
    }
  }

  async #renew(): Promise<void> {
    try {
      const result = await this.#tryAcquireOrRenew(this.#lost.signal, this.#deadline - this.#clock.now());
      if (!this.#leading) return;
      if (result.kind === "held") this.#armDeadline(result.sentAt);
      else if (result.kind === "taken") this.#lose(`the lease is held by ${this.#observation?.record.holderIdentity}`);
    } catch (err) {
      if (this.#leading) this.#log?.("warn", "leader election: renewing the lease failed", this.#fields(err));
    }
  }

  async #release(): Promise<void> {
    const lease = this.#lease;
    if (!lease) return;
    const record = recordOf(lease.spec);
    if (record.holderIdentity !== this.identity) return;
    try {
      const released = await this.#leases.update(withRecord(lease, releaseRecord(record, microTime(this.#wall()))), {
        signal: this.#lost.signal,
        timeoutMs: Math.max(1, this.#deadline - this.#clock.now()),
      });
      this.#stored(released);
      this.#log?.("info", "leader election: released the lease", this.#fields());
    } catch (err) {
      this.#log?.("warn", "leader election: releasing the lease failed", this.#fields(err));
    }
  }

  /**
   * One acquire-or-renew try, client-go's `tryAcquireOrRenew`. The leader first updates from the Lease it last wrote
   * (one request while nobody else writes); otherwise the Lease is read, and written only when it is free, expired as
   * observed here, or ours. The write is conditional on the resourceVersion read, so two candidates cannot both win.
   */
  async #tryAcquireOrRenew(signal: AbortSignal | undefined, timeoutMs: number): Promise<Try> {
    const opts = { signal, timeoutMs: Math.max(1, timeoutMs) };
    const sentAt = this.#clock.now();
    const wallTime = microTime(this.#wall());
    const seconds = this.#timing.leaseDurationMs / 1000;
    if (this.#leading && this.#lease) {
      const claim = claimRecord(recordOf(this.#lease.spec), this.identity, seconds, wallTime);
      try {
        this.#stored(await this.#leases.update(withRecord(this.#lease, claim), opts));
        return { kind: "held", sentAt };
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
    let current: KubeObject;
    try {
      current = await this.#leases.get(this.#name, opts);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const claim = claimRecord(undefined, this.identity, seconds, wallTime);
      try {
        this.#stored(await this.#leases.create(leaseObject(this.#namespace, this.#name, claim), opts));
        return { kind: "held", sentAt };
      } catch (createErr) {
        if (isAlreadyExists(createErr)) return { kind: "conflict" };
        throw createErr;
      }
    }
    this.#stored(current);
    const observation = this.#observation;
    if (observation && heldByOther(observation, this.identity, this.#clock.now())) return { kind: "taken" };
    const claim = claimRecord(observation?.record, this.identity, seconds, wallTime);
    try {
      this.#stored(await this.#leases.update(withRecord(current, claim), opts));
      return { kind: "held", sentAt };
    } catch (err) {
      if (isConflict(err)) return { kind: "conflict" };
      throw err;
    }
  }

  /** Records the Lease as read or written now: the observation (local clock) and the leader it names. */
  #stored(lease: KubeObject): void {
    this.#lease = lease;
    const record = recordOf(lease.spec);
    this.#observation = observe(this.#observation, record, this.#clock.now());
    const holder = record.holderIdentity === "" ? undefined : record.holderIdentity;
    if (holder === this.#reportedLeader) return;
    this.#reportedLeader = holder;
    if (holder !== undefined) this.#callback("onNewLeader", () => this.#options.onNewLeader?.(holder));
  }

  #callback(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log?.("error", `leader election: ${name} failed`, this.#fields(err));
    }
  }

  #fields(err?: unknown): Record<string, unknown> {
    return {
      lease: `${this.#namespace}/${this.#name}`,
      identity: this.identity,
      ...(err === undefined ? {} : failureFields(err)),
    };
  }
}

function specOf(record: LeaseRecord): Record<string, unknown> {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    ...(record.acquireTime === undefined ? {} : { acquireTime: record.acquireTime }),
    ...(record.renewTime === undefined ? {} : { renewTime: record.renewTime }),
    leaseTransitions: record.leaseTransitions,
  };
}

function withRecord(lease: KubeObject, record: LeaseRecord): KubeObject {
  const spec = typeof lease.spec === "object" && lease.spec !== null ? lease.spec : {};
  return { ...lease, spec: { ...spec, ...specOf(record) } };
}

function leaseObject(namespace: string, name: string, record: LeaseRecord): KubeObject {
  return { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace }, spec: specOf(record) };
}

/** Resolves after `ms` on `clock`, or as soon as one of `signals` aborts. */
function pause(clock: TimerClock, ms: number, signals: readonly AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((s) => s.aborted)) return resolve();
    const done = () => {
      timer.cancel();
      for (const s of signals) s.removeEventListener("abort", done);
      resolve();
    };
    const timer = clock.setTimer(ms, done);
    for (const s of signals) s.addEventListener("abort", done, { once: true });
  });
}
