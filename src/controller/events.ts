/**
 * An `events.k8s.io/v1` Event recorder with client-go's events library semantics: isomorphic events (same action,
 * reason, type, regarding and related object) within a window become one Event whose `series` counts the repeats and
 * is written periodically, not once per repeat; a token bucket per source (the recorder and the regarding object), as
 * client-go's spam filter, drops floods; failures are logged, never thrown at the caller.
 */

import { delay } from "../cache/backoff.js";
import { failureFields, type Logger, type LoggerOption, loggerOf } from "../cache/log.js";
import type { DynamicClient, ResourceClient } from "../client/resource.js";
import { ApiError, isNotFound } from "../http/errors.js";
import * as meta from "../object/meta.js";
import type { KubeObject } from "../object/types.js";

/** Whether an Event reports normal operation or something an operator may want to look at. */
export type EventType = "Normal" | "Warning";

/** The object an Event is about (`regarding`) or also concerns (`related`): a `corev1.ObjectReference`. */
export interface EventObjectReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string | undefined;
  readonly uid?: string | undefined;
  /** A part of the object, e.g. `spec.containers{app}`. */
  readonly fieldPath?: string | undefined;
}

/** One occurrence to record. */
export interface EventInput {
  readonly type: EventType;
  /** Why the action was taken, in UpperCamelCase (`ScalingReplicaSet`); at most 128 characters. */
  readonly reason: string;
  /** What was done, or failed (`Scale`, `Reconcile`); at most 128 characters. */
  readonly action: string;
  /** A human-readable description; cut to the API's 1 kB. Not part of what makes repeats one series. */
  readonly note?: string | undefined;
  /** A second object the event concerns. */
  readonly related?: KubeObject | EventObjectReference | undefined;
}

/** Options of {@link EventRecorder}. */
export interface EventRecorderOptions {
  /** The controller's name, `example.com/widgets-controller`: the Event's `reportingController`. */
  readonly reportingController: string;
  /** This replica of it (a pod name): the Event's `reportingInstance`. */
  readonly reportingInstance: string;
  /** How long a series stays open without a repeat before the next repeat starts a new Event; default 6 minutes. */
  readonly seriesWindowMs?: number | undefined;
  /** How often open series get their count written; default 6 minutes, as client-go. {@link EventRecorder.flush} writes at once. */
  readonly seriesRefreshMs?: number | undefined;
  /** Events one source may create at once; default 25, as client-go's spam filter. */
  readonly burst?: number | undefined;
  /** Events per second a source's allowance grows by; default 1/300, as client-go's spam filter. */
  readonly refillPerSecond?: number | undefined;
  /** Where failures and drops are logged; default the library's stderr logger (warnings and errors). */
  readonly logger?: LoggerOption | undefined;
  /** Closes the recorder (see {@link EventRecorder.close}) when it fires. */
  readonly signal?: AbortSignal | undefined;
  /** Milliseconds since the epoch; tests pass a fake one. */
  readonly now?: (() => number) | undefined;
}

/** What an {@link EventRecorder} has done so far. */
export interface EventRecorderStats {
  /** Occurrences passed to `record` (after close too). */
  readonly recorded: number;
  /** Occurrences folded into an existing Event's series. */
  readonly aggregated: number;
  /** Occurrences dropped: rate limited, malformed, or recorded after close. */
  readonly dropped: number;
  /** Create and patch requests that succeeded. */
  readonly writes: number;
  /** Create and patch requests that failed for good. */
  readonly failures: number;
}

const sixMinutes = 6 * 60 * 1000;
const maxNoteBytes = 1024;
const transientAttempts = 3;
const eventsResource = { group: "events.k8s.io", version: "v1", resource: "events", namespaced: true } as const;

interface Series {
  count: number;
  lastObservedTime: string;
}

/** An Event the recorder holds: the body it created, and the repeats since. */
interface Entry {
  readonly key: string;
  readonly body: Record<string, unknown> & { metadata: { name: string; namespace: string } };
  /** Epoch ms of the first occurrence, or of the last repeat once a series. */
  lastSeen: number;
  series: Series | undefined;
  created: boolean;
  /** The series count last written. */
  written: number;
  /** Writes of this Event run one after another, each with the state at its start. */
  chain: Promise<void>;
  queued: boolean;
}

interface Bucket {
  tokens: number;
  last: number;
  warned: boolean;
}

/** `metav1.MicroTime` as the API serializes it: RFC 3339 with six fractional digits. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function truncateBytes(text: string, max: number): string {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= max) return text;
  // A cut inside a multi-byte character decodes as U+FFFD; drop it.
  return bytes
    .subarray(0, max)
    .toString("utf8")
    .replace(/\uFFFD$/, "");
}

function isKubeObject(value: KubeObject | EventObjectReference): value is KubeObject {
  return "metadata" in value;
}

/** The reference to `obj`, or undefined when it lacks the kind, apiVersion or name an Event needs. */
function referenceOf(obj: KubeObject | EventObjectReference): EventObjectReference | undefined {
  const ref = isKubeObject(obj)
    ? {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: meta.name(obj),
        namespace: meta.namespace(obj),
        uid: meta.uid(obj),
      }
    : obj;
  if (typeof ref.apiVersion !== "string" || !ref.apiVersion || typeof ref.kind !== "string" || !ref.kind)
    return undefined;
  if (typeof ref.name !== "string" || !ref.name) return undefined;
  const out: Record<string, string> = { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name };
  for (const field of ["namespace", "uid", "fieldPath"] as const) {
    const value = field in ref ? (ref as EventObjectReference)[field] : undefined;
    if (typeof value === "string" && value) out[field] = value;
  }
  return out as unknown as EventObjectReference;
}

const describeRef = (ref: EventObjectReference) => `${ref.kind} ${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}`;

/**
 * Records `events.k8s.io/v1` Events for a controller. `record` returns at once and never throws; the writes happen in
 * the background: the first occurrence creates an Event, the first repeat turns it into a series (`series.count` 2),
 * and later repeats only count until the next refresh (or {@link EventRecorder.flush}) writes the count. A series
 * without repeats for `seriesWindowMs` is finished, and a later repeat starts a new Event. Each source (this recorder
 * and one regarding object) may create `burst` Events at once and `refillPerSecond` more each second; the rest are
 * dropped and logged, as client-go's spam filter drops them.
 */
export class EventRecorder {
  readonly #client: DynamicClient;
  readonly #options: EventRecorderOptions;
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #buckets = new Map<string, Bucket>();
  readonly #inflight = new Set<Promise<void>>();
  readonly #timer: NodeJS.Timeout;
  readonly #stopRetries = new AbortController();
  #closed: Promise<void> | undefined;
  #sequence = 0;
  #stats = { recorded: 0, aggregated: 0, dropped: 0, writes: 0, failures: 0 };

  constructor(client: DynamicClient, options: EventRecorderOptions) {
    if (!options.reportingController || !options.reportingInstance) {
      throw new TypeError("an EventRecorder needs a reportingController and a reportingInstance");
    }
    this.#client = client;
    this.#options = options;
    this.#log = loggerOf(options.logger);
    this.#now = options.now ?? Date.now;
    this.#timer = setInterval(() => this.#tick(), options.seriesRefreshMs ?? sixMinutes);
    this.#timer.unref();
    options.signal?.addEventListener("abort", () => void this.close(), { once: true });
    if (options.signal?.aborted) void this.close();
  }

  /** What the recorder has done so far. */
  get stats(): EventRecorderStats {
    return { ...this.#stats };
  }

  /** Records one occurrence about `regarding`; returns at once, never throws (problems are logged). */
  record(regarding: KubeObject | EventObjectReference, event: EventInput): void {
    this.#stats.recorded++;
    try {
      this.#record(regarding, event);
    } catch (err) {
      this.#stats.dropped++;
      this.#log?.("error", "event recorder failed", {
        controller: this.#options.reportingController,
        ...failureFields(err),
      });
    }
  }

  #record(regarding: KubeObject | EventObjectReference, event: EventInput): void {
    if (this.#closed !== undefined) {
      this.#stats.dropped++;
      return;
    }
    const ref = referenceOf(regarding);
    const related = event.related === undefined ? undefined : referenceOf(event.related);
    if (ref === undefined || (event.related !== undefined && related === undefined)) {
      this.#stats.dropped++;
      this.#log?.("warn", "event dropped: its object has no apiVersion, kind or name", {
        controller: this.#options.reportingController,
        reason: event.reason,
      });
      return;
    }
    const now = this.#now();
    const key = JSON.stringify([event.action, event.reason, event.type, ref, related ?? null]);
    const entry = this.#entries.get(key);
    if (entry !== undefined && now - entry.lastSeen <= (this.#options.seriesWindowMs ?? sixMinutes)) {
      this.#stats.aggregated++;
      entry.lastSeen = now;
      const first = entry.series === undefined;
      entry.series = { count: (entry.series?.count ?? 1) + 1, lastObservedTime: microTime(now) };
      // As client-go, the first repeat is written at once; later ones wait for the refresh.
      if (first) this.#schedule(entry);
      return;
    }
    if (entry !== undefined) this.#finish(entry);
    if (!this.#take(JSON.stringify([ref.apiVersion, ref.kind, ref.namespace, ref.name, ref.uid]), now, ref)) return;
    const namespace = ref.namespace ?? "default";
    const stamp = (BigInt(Math.floor(now)) * 1_000_000n + BigInt(this.#sequence++ % 1_000_000)).toString(16);
    const body = {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: `${ref.name.slice(0, 253 - stamp.length - 1)}.${stamp}`, namespace },
      eventTime: microTime(now),
      reportingController: this.#options.reportingController,
      reportingInstance: this.#options.reportingInstance,
      action: event.action,
      reason: event.reason,
      type: event.type,
      regarding: ref,
      ...(related !== undefined ? { related } : {}),
      ...(event.note !== undefined ? { note: truncateBytes(event.note, maxNoteBytes) } : {}),
    };
    const fresh: Entry = {
      key,
      body,
      lastSeen: now,
      series: undefined,
      created: false,
      written: 1,
      chain: Promise.resolve(),
      queued: false,
    };
    this.#entries.set(key, fresh);
    this.#schedule(fresh);
  }

  /** Takes a token of `source`'s bucket; false (logged once per dry spell) when there is none. */
  #take(source: string, now: number, ref: EventObjectReference): boolean {
    const burst = Math.max(1, this.#options.burst ?? 25);
    const rate = this.#options.refillPerSecond ?? 1 / 300;
    const bucket = this.#buckets.get(source) ?? { tokens: burst, last: now, warned: false };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.last) / 1000) * rate);
    bucket.last = now;
    this.#buckets.set(source, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.warned = false;
      return true;
    }
    this.#stats.dropped++;
    if (!bucket.warned) {
      bucket.warned = true;
      this.#log?.("warn", "events dropped: too many for one object", {
        controller: this.#options.reportingController,
        regarding: describeRef(ref),
        burst,
        refillPerSecond: rate,
      });
    }
    return false;
  }

  /** Queues a write of `entry` unless one is queued: it writes the state at its start, so repeats coalesce. */
  #schedule(entry: Entry): void {
    if (entry.queued) return;
    entry.queued = true;
    const run = entry.chain.then(() => {
      entry.queued = false;
      return this.#send(entry);
    });
    entry.chain = run;
    this.#inflight.add(run);
    void run.finally(() => this.#inflight.delete(run));
  }

  async #send(entry: Entry): Promise<void> {
    const { namespace, name } = entry.body.metadata;
    const events: ResourceClient = this.#client.resource(eventsResource).namespace(namespace);
    const series = entry.series === undefined ? undefined : { ...entry.series };
    try {
      await this.#attempt(async () => {
        if (entry.created && series !== undefined) {
          try {
            await events.patch(name, { series }, "merge");
            return;
          } catch (err) {
            // Someone deleted the Event: record it again, series and all, as client-go does.
            if (!isNotFound(err)) throw err;
          }
        }
        await events.create({ ...entry.body, ...(series !== undefined ? { series } : {}) } as KubeObject);
      });
      entry.created = true;
      entry.written = series?.count ?? 1;
      this.#stats.writes++;
    } catch (err) {
      this.#stats.failures++;
      // An Event never created is forgotten, so the next occurrence tries afresh.
      if (!entry.created && this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
      this.#log?.("warn", "event not written", {
        controller: this.#options.reportingController,
        regarding: describeRef(entry.body.regarding as EventObjectReference),
        reason: entry.body.reason,
        ...failureFields(err),
      });
    }
  }

  /** Runs `write`, again after a transient failure (a network error, 429, 5xx) while the recorder is open. */
  async #attempt(write: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        const transient = err instanceof ApiError && err.transient;
        if (!transient || attempt >= transientAttempts || this.#stopRetries.signal.aborted) throw err;
      }
      await delay(500 * attempt, this.#stopRetries.signal);
    }
  }

  /** Writes `entry`'s unwritten count and forgets it: the next isomorphic event starts a new Event. */
  #finish(entry: Entry): void {
    if (entry.series !== undefined && entry.series.count !== entry.written) this.#schedule(entry);
    this.#entries.delete(entry.key);
  }

  /** The periodic work: write open series' counts, finish stale series, forget full buckets. */
  #tick(): void {
    const now = this.#now();
    const window = this.#options.seriesWindowMs ?? sixMinutes;
    for (const entry of [...this.#entries.values()]) {
      if (now - entry.lastSeen > window) this.#finish(entry);
      else if (entry.series !== undefined && entry.series.count !== entry.written) this.#schedule(entry);
    }
    const burst = Math.max(1, this.#options.burst ?? 25);
    const rate = this.#options.refillPerSecond ?? 1 / 300;
    for (const [source, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.last) / 1000) * rate >= burst) this.#buckets.delete(source);
    }
  }

  /** Writes every unwritten series count now and waits for all writes in flight; never rejects. */
  async flush(): Promise<void> {
    for (const entry of this.#entries.values()) {
      if (entry.series !== undefined && entry.series.count !== entry.written) this.#schedule(entry);
    }
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  /**
   * Stops recording: later occurrences are dropped, the refresh timer stops, unwritten counts are written, and the
   * returned promise resolves once every write has ended (transient failures are not retried past this point).
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#timer);
      this.#stopRetries.abort();
      await this.flush();
    })();
    return this.#closed;
  }
}
