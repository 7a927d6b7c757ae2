/**
 * The exporter: reads the watch-all stream, makes a CloudEvent of each change and hands batches of them to one sink,
 * at least once. The engine must run with `acknowledge: "manual"`: an event is acknowledged to it only once the sink
 * acknowledged its batch, so the checkpoint never passes an event the receiver has not got.
 */
import type { Histogram } from "prom-client";
import { Backoff, type BackoffOptions, delay } from "../cache/backoff.js";
import { type LoggerOption, loggerOf } from "../cache/log.js";
import { counter, histogram, type MetricsRegistry } from "../metrics/prometheus.js";
import type { WatchAllEvent } from "../watchall/types.js";
import { CloudEventMaker, type DataMode, deliveryKey } from "./cloudevent.js";
import { type Delivery, type Sink, SinkError } from "./types.js";

/** Options of an {@link Exporter}. */
export interface ExporterOptions {
  readonly sink: Sink;
  /** The cluster's name in each event's `source`. */
  readonly clusterName: string;
  /** What `data` carries; default "object". */
  readonly data?: DataMode | undefined;
  /**
   * Merge an object's pending changes that have not been sent yet into its newest state (a receiver that keeps the
   * latest state only then gets fewer events when it is slow). Off by default: every change is delivered.
   */
  readonly latestState?: boolean | undefined;
  /**
   * Events read from the stream and not yet acknowledged by the sink; at this many the exporter stops reading (and
   * the engine slows its informers). Default 4 batches' worth, at least 1000.
   */
  readonly maxPending?: number | undefined;
  /** Batches sent at once; default 4. */
  readonly maxInFlight?: number | undefined;
  /** Backoff between attempts of a failed batch; default 200 ms doubling to 30 s, jittered. */
  readonly backoff?: BackoffOptions | undefined;
  /** When stopping, how long queued and in-flight batches may still be delivered; default 5 s. */
  readonly drainMs?: number | undefined;
  /** Which events to deliver; the others are acknowledged at once. Default all. */
  readonly accepts?: ((event: WatchAllEvent) => boolean) | undefined;
  /** Where `kindwatch_export_*` metrics are registered, labelled by sink name. */
  readonly registry?: MetricsRegistry | undefined;
  /** Retries are logged as warnings; default warnings and errors to stderr, "none" for silence. */
  readonly logger?: LoggerOption | undefined;
}

/**
 * What the exporter reads: a watch-all engine (`WatchAll`) started with `acknowledge: "manual"`, or anything that
 * streams its events and takes their acknowledgements the same way.
 */
export interface ExportSource extends AsyncIterable<WatchAllEvent> {
  /** The sink acknowledged `event`: the checkpoint may take it. */
  acknowledge(event: WatchAllEvent): void;
  /** Ends the stream. */
  stop(): Promise<void>;
  /** Saves the checkpoint now. */
  saveCheckpoint(): Promise<void>;
}

/** How an {@link Exporter} is doing. */
export interface ExporterStatus {
  readonly sink: string;
  /** CloudEvents the sink acknowledged (a redelivered batch counts once). */
  readonly delivered: number;
  /** Stream events acknowledged to the engine: more than `delivered` when latest-state merged some. */
  readonly acknowledged: number;
  /** Sends attempted again after a failure. */
  readonly retries: number;
  /** Sends that failed (retried or not). */
  readonly failures: number;
  /** Events read and not acknowledged yet. */
  readonly pending: number;
  /** Batches being sent now. */
  readonly inFlight: number;
  /** The last failure's message, if the last attempt of any batch failed. */
  readonly lastError?: string;
  /** Time from receipt to acknowledgement of recent deliveries (the last 4096), in ms; undefined before the first. */
  readonly lagMs?: { readonly p50: number; readonly p99: number; readonly max: number };
}

/** The exporter stopped because the sink refused a batch for good (a {@link SinkError} that is not retryable). */
export class ExportError extends Error {
  override readonly name = "ExportError";
}

/** Queued events of one key, sent as one delivery: more than one event only when latest-state merged them. */
interface Entry {
  readonly key: string;
  /** Oldest first; the delivery is made of the newest. */
  readonly events: WatchAllEvent[];
  /** When the oldest was received (ms since the epoch): the lag counts from it. */
  readonly receivedAt: number;
  /** When the newest was received: the event's `time`. */
  lastReceivedAt: number;
}

const lagBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const lagWindow = 4096;

function isObjectChange(e: WatchAllEvent): boolean {
  return e.type === "ADDED" || e.type === "MODIFIED" || e.type === "DELETED";
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/**
 * Delivers a watch-all engine's stream to a sink: batches of up to `sink.maxBatch`, at most `maxInFlight` batches at
 * once, an object's (a key's) events in order and never in two unacknowledged batches, failed batches sent again with
 * exponential jittered backoff (honouring `retryAfterMs`) for as long as the failure is retryable.
 */
export class Exporter {
  readonly #sink: Sink;
  readonly #maker: CloudEventMaker;
  readonly #latestState: boolean;
  readonly #maxPending: number;
  readonly #maxInFlight: number;
  readonly #backoff: BackoffOptions;
  readonly #drainMs: number;
  readonly #accepts: ((event: WatchAllEvent) => boolean) | undefined;
  readonly #log: ReturnType<typeof loggerOf>;
  readonly #metrics:
    | { delivered: () => void; retried: () => void; lag: Histogram<"sink">; labels: { sink: string } }
    | undefined;
  /** Unsent entries, in the order their first event arrived. */
  #queue: Entry[] = [];
  /** The unsent entry of each key that a newer change may merge into (latest-state). */
  readonly #mergeable = new Map<string, Entry>();
  /** Keys in a batch the sink has not acknowledged yet. */
  readonly #busy = new Set<string>();
  readonly #sending = new Set<Promise<void>>();
  #pending = 0;
  #delivered = 0;
  #acknowledged = 0;
  #retries = 0;
  #failures = 0;
  #lastError: string | undefined;
  readonly #lags: number[] = [];
  #lagAt = 0;
  #failure: ExportError | undefined;
  /** Aborted when sends must be given up: a failure, or the end of the drain. */
  readonly #giveUp = new AbortController();
  /** Aborted when reading must stop. */
  readonly #stopReading = new AbortController();
  #changed: () => void = () => {};
  #engine: ExportSource | undefined;

  constructor(options: ExporterOptions) {
    this.#sink = options.sink;
    this.#maker = new CloudEventMaker({ clusterName: options.clusterName, data: options.data });
    this.#latestState = options.latestState ?? false;
    this.#maxPending = options.maxPending ?? Math.max(1000, 4 * options.sink.maxBatch);
    this.#maxInFlight = options.maxInFlight ?? 4;
    this.#backoff = { initialMs: 200, maxMs: 30_000, resetAfterMs: 0, ...options.backoff };
    this.#drainMs = options.drainMs ?? 5000;
    this.#accepts = options.accepts;
    this.#log = loggerOf(options.logger);
    const registry = options.registry;
    if (registry) {
      const labels = { sink: options.sink.name };
      const labelNames = ["sink"] as const;
      const delivered = counter(registry, {
        name: "kindwatch_export_events_delivered_total",
        help: "CloudEvents the sink acknowledged",
        labelNames,
      });
      const retries = counter(registry, {
        name: "kindwatch_export_retries_total",
        help: "Batches sent again after a failed send",
        labelNames,
      });
      const lag = histogram(
        registry,
        {
          name: "kindwatch_export_lag_seconds",
          help: "Time from receipt of a change to the sink's acknowledgement",
          labelNames,
        },
        lagBuckets,
      );
      this.#metrics = {
        delivered: () => delivered.inc(labels),
        retried: () => retries.inc(labels),
        lag,
        labels,
      };
    }
  }

  /** How delivery is going. */
  status(): ExporterStatus {
    const sorted = [...this.#lags].sort((a, b) => a - b);
    return {
      sink: this.#sink.name,
      delivered: this.#delivered,
      acknowledged: this.#acknowledged,
      retries: this.#retries,
      failures: this.#failures,
      pending: this.#pending,
      inFlight: this.#sending.size,
      ...(this.#lastError === undefined ? {} : { lastError: this.#lastError }),
      ...(sorted.length === 0
        ? {}
        : { lagMs: { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1) ?? 0 } }),
    };
  }

  /**
   * Delivers `engine`'s stream (started by the caller, with `acknowledge: "manual"`) until `signal` aborts or the
   * stream ends; then delivers what it can within `drainMs`, gives up the rest (it comes again after a restart) and
   * saves the checkpoint. Rejects with an {@link ExportError} when the sink refuses a batch for good, and with the
   * stream's error when it fails. The sink is the caller's to close.
   */
  async run(engine: ExportSource, signal?: AbortSignal): Promise<void> {
    this.#engine = engine;
    const stop = () => {
      this.#stopReading.abort();
      void engine.stop();
      this.#notify();
    };
    if (signal?.aborted) stop();
    signal?.addEventListener("abort", stop, { once: true });
    let streamError: unknown;
    try {
      for await (const event of engine) {
        this.#add(event);
        this.#dispatch();
        while (this.#pending >= this.#maxPending && !this.#stopReading.signal.aborted) await this.#change();
        if (this.#stopReading.signal.aborted) break;
      }
    } catch (err) {
      streamError = err;
    } finally {
      signal?.removeEventListener("abort", stop);
    }
    await engine.stop();
    if (!this.#failure) await this.#drain();
    this.#giveUp.abort();
    await Promise.all(this.#sending);
    // Acknowledgements that came after the engine stopped (and saved) move the checkpoint still.
    await engine.saveCheckpoint();
    if (this.#failure) throw this.#failure;
    if (streamError !== undefined) throw streamError;
  }

  /** Waits until everything read is delivered, or `drainMs` has passed. */
  async #drain(): Promise<void> {
    const deadline = Date.now() + this.#drainMs;
    while (this.#pending > 0 && !this.#failure) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      const cancel = new AbortController();
      await Promise.race([this.#change(), delay(left, cancel.signal)]);
      cancel.abort();
    }
  }

  /** Resolves at the next change of what is pending or being sent. */
  #change(): Promise<void> {
    return new Promise((resolve) => {
      const previous = this.#changed;
      this.#changed = () => {
        previous();
        resolve();
      };
    });
  }

  #notify(): void {
    const changed = this.#changed;
    this.#changed = () => {};
    changed();
  }

  #add(event: WatchAllEvent): void {
    if (this.#accepts && !this.#accepts(event)) {
      this.#engine?.acknowledge(event);
      return;
    }
    const now = Date.now();
    const key = deliveryKey(event);
    this.#pending++;
    if (this.#latestState && isObjectChange(event)) {
      const entry = this.#mergeable.get(key);
      if (entry) {
        entry.events.push(event);
        entry.lastReceivedAt = now;
        return;
      }
    }
    const entry: Entry = { key, events: [event], receivedAt: now, lastReceivedAt: now };
    this.#queue.push(entry);
    if (this.#latestState && isObjectChange(event)) this.#mergeable.set(key, entry);
  }

  /** Starts batches while there are free slots and sendable entries. */
  #dispatch(): void {
    while (this.#sending.size < this.#maxInFlight && !this.#failure && !this.#giveUp.signal.aborted) {
      const entries = this.#take();
      if (entries.length === 0) return;
      let batch: Delivery[];
      try {
        // Made now, in the order the sink gets them: a patch is from the state delivered before it.
        batch = entries.map((e) => this.#maker.make(e.events.at(-1) as WatchAllEvent, new Date(e.lastReceivedAt)));
      } catch (err) {
        this.#fail(`cannot make a CloudEvent: ${(err as Error).message}`);
        return;
      }
      const sending: Promise<void> = this.#deliver(entries, batch)
        .catch((err: Error) => this.#fail(`export failed: ${err.message}`))
        .finally(() => {
          this.#sending.delete(sending);
          this.#notify();
          this.#dispatch();
        });
      this.#sending.add(sending);
    }
  }

  /** The next batch: queued entries in order, skipping keys in an unacknowledged batch (and so keeping their order). */
  #take(): Entry[] {
    const taken: Entry[] = [];
    const rest: Entry[] = [];
    for (const entry of this.#queue) {
      if (taken.length < this.#sink.maxBatch && !this.#busy.has(entry.key)) taken.push(entry);
      else rest.push(entry);
    }
    if (taken.length === 0) return taken;
    this.#queue = rest;
    for (const entry of taken) {
      this.#busy.add(entry.key);
      if (this.#mergeable.get(entry.key) === entry) this.#mergeable.delete(entry.key);
    }
    return taken;
  }

  async #deliver(entries: readonly Entry[], batch: readonly Delivery[]): Promise<void> {
    const backoff = new Backoff(this.#backoff);
    for (;;) {
      try {
        await this.#sink.send(batch, this.#giveUp.signal);
        break;
      } catch (err) {
        if (this.#giveUp.signal.aborted) return;
        this.#failures++;
        const failure =
          err instanceof SinkError ? err : new SinkError((err as Error).message ?? String(err), { retryable: true });
        this.#lastError = failure.message;
        if (!failure.retryable) {
          this.#fail(`${this.#sink.name} refused ${batch.length} event(s) for good: ${failure.message}`);
          return;
        }
        const backoffMs = backoff.next();
        const wait = failure.retryAfterMs ?? backoffMs;
        this.#log?.("warn", "export: send failed; retrying", {
          sink: this.#sink.name,
          events: batch.length,
          error: failure.message,
          retryInMs: Math.round(wait),
        });
        if (!(await delay(wait, this.#giveUp.signal))) return;
        this.#retries++;
        this.#metrics?.retried();
      }
    }
    this.#lastError = undefined;
    // Throws when the engine does not take acknowledgements (not started with acknowledge: "manual"): caught above.
    this.#acked(entries);
  }

  #acked(entries: readonly Entry[]): void {
    const now = Date.now();
    for (const entry of entries) {
      for (const event of entry.events) this.#engine?.acknowledge(event);
      this.#busy.delete(entry.key);
      this.#pending -= entry.events.length;
      this.#acknowledged += entry.events.length;
      this.#delivered++;
      const lag = now - entry.receivedAt;
      this.#lags[this.#lagAt] = lag;
      this.#lagAt = (this.#lagAt + 1) % lagWindow;
      if (this.#metrics) {
        this.#metrics.delivered();
        this.#metrics.lag.observe(this.#metrics.labels, lag / 1000);
      }
    }
  }

  #fail(message: string): void {
    this.#failure ??= new ExportError(message);
    this.#stopReading.abort();
    this.#giveUp.abort();
    void this.#engine?.stop();
    this.#notify();
  }
}
