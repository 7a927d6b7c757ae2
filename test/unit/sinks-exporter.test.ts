/**
 * The exporter's delivery logic, on a scripted stream and a scripted sink: batching, per-key order (a key never in two
 * unacknowledged batches), acknowledgement only after the sink's, retries with backoff, a refusal for good, bounded
 * reading (backpressure) and latest-state merging. The real engine and sinks are covered by the export tests.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import { ExportError, Exporter, type ExportSource } from "../../src/sinks/exporter.js";
import { type Delivery, type Sink, SinkError } from "../../src/sinks/types.js";
import { Channel } from "../../src/watchall/channel.js";
import type { ObjectEvent, WatchAllEvent } from "../../src/watchall/types.js";
import { waitFor } from "../support/wait.js";

function ev(name: string, rv: number, type: ObjectEvent["type"] = "MODIFIED"): ObjectEvent {
  return {
    type,
    origin: "live",
    group: "example.com",
    version: "v1",
    kind: "Widget",
    resource: "widgets",
    namespaced: true,
    namespace: "ns",
    name,
    resourceVersion: String(rv),
    object: {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name, namespace: "ns", uid: `u-${name}`, resourceVersion: String(rv) },
    },
  };
}

/** A stream the test writes to, which records what was taken and acknowledged. */
class ScriptedSource implements ExportSource {
  readonly channel = new Channel<WatchAllEvent>(100_000);
  readonly acked: WatchAllEvent[] = [];
  taken = 0;
  saves = 0;

  push(...events: WatchAllEvent[]): void {
    for (const e of events) void this.channel.put(e);
  }

  acknowledge(event: WatchAllEvent): void {
    this.acked.push(event);
  }

  async stop(): Promise<void> {
    this.channel.close();
  }

  async saveCheckpoint(): Promise<void> {
    this.saves++;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchAllEvent> {
    for (;;) {
      const next = await this.channel.take();
      if (next.done) return;
      this.taken++;
      yield next.value;
    }
  }
}

/** A sink that records each attempt and answers as `answer` says (resolving by default). */
class ScriptedSink implements Sink {
  readonly name = "scripted";
  readonly maxBatch: number;
  readonly attempts: string[][] = [];
  readonly delivered: string[] = [];
  /** Keys of batches sent and not answered yet. */
  readonly open = new Set<string>();
  overlaps = 0;
  answer: (attempt: number, batch: readonly Delivery[]) => Promise<void> = async () => {};

  constructor(maxBatch: number) {
    this.maxBatch = maxBatch;
  }

  async send(batch: readonly Delivery[], signal: AbortSignal): Promise<void> {
    assert.ok(batch.length <= this.maxBatch, "a batch within maxBatch");
    const keys = new Set(batch.map((d) => d.key));
    for (const k of keys) if (this.open.has(k)) this.overlaps++;
    for (const k of keys) this.open.add(k);
    this.attempts.push(batch.map((d) => d.event.id));
    try {
      // As the contract asks: an aborted signal gives the send up.
      const aborted = new Promise<never>((_, reject) => {
        const fail = () => reject(new SinkError("given up", { retryable: true }));
        if (signal.aborted) fail();
        signal.addEventListener("abort", fail, { once: true });
      });
      await Promise.race([this.answer(this.attempts.length, batch), aborted]);
      this.delivered.push(...batch.map((d) => d.event.id));
    } finally {
      for (const k of keys) this.open.delete(k);
    }
  }

  async close(): Promise<void> {}
}

const quiet = { logger: "none" as const, backoff: { initialMs: 5, maxMs: 20 } };
const ticks = async (n: number) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe("Exporter", () => {
  it("delivers every event in per-key order, a key never in two unacknowledged batches", async () => {
    const source = new ScriptedSource();
    const sink = new ScriptedSink(7);
    sink.answer = () => new Promise((r) => setTimeout(r, Math.random() * 5));
    const exporter = new Exporter({ sink, clusterName: "c", maxInFlight: 4, ...quiet });
    const events: ObjectEvent[] = [];
    for (let rv = 1; rv <= 300; rv++) events.push(ev(`o${rv % 11}`, rv));
    source.push(...events);
    const stop = new AbortController();
    const running = exporter.run(source, stop.signal);
    await waitFor("every event acknowledged", () => source.acked.length === events.length);
    stop.abort();
    await running;
    assert.equal(sink.overlaps, 0, "no key in two open batches");
    assert.deepEqual([...sink.delivered].sort(), events.map((e) => `u-${e.name}/${e.resourceVersion}`).sort());
    for (let k = 0; k < 11; k++) {
      const rvs = sink.delivered.filter((id) => id.startsWith(`u-o${k}/`)).map((id) => Number(id.split("/")[1]));
      assert.deepEqual(
        rvs,
        [...rvs].sort((a, b) => a - b),
        `o${k} in order`,
      );
    }
    assert.ok(
      sink.attempts.some((b) => b.length > 1),
      "events were batched",
    );
    assert.equal(exporter.status().delivered, 300);
    assert.equal(exporter.status().pending, 0);
    assert.ok(source.saves >= 1, "the checkpoint is saved after the last acknowledgements");
  });

  it("acknowledges to the stream only what the sink acknowledged", async () => {
    const source = new ScriptedSource();
    const sink = new ScriptedSink(10);
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    sink.answer = (attempt) => (attempt === 1 ? held : Promise.resolve());
    const exporter = new Exporter({ sink, clusterName: "c", maxInFlight: 1, ...quiet });
    const stop = new AbortController();
    const running = exporter.run(source, stop.signal);
    source.push(ev("a", 1), ev("b", 2));
    await waitFor("the first batch sent", () => sink.attempts.length === 1);
    await ticks(10);
    assert.deepEqual(source.acked, [], "nothing acknowledged while the sink has not answered");
    release();
    await waitFor("both acknowledged", () => source.acked.length === 2);
    stop.abort();
    await running;
  });

  it("sends a failed batch again, the same events, after backoff or Retry-After", async () => {
    const source = new ScriptedSource();
    const sink = new ScriptedSink(10);
    const at: number[] = [];
    sink.answer = async (attempt) => {
      at.push(performance.now());
      if (attempt === 1) throw new SinkError("503", { retryable: true });
      if (attempt === 2) throw new SinkError("429", { retryable: true, retryAfterMs: 150 });
    };
    const registry = new Registry();
    const exporter = new Exporter({ sink, clusterName: "c", registry, ...quiet });
    const stop = new AbortController();
    const running = exporter.run(source, stop.signal);
    source.push(ev("a", 1));
    await waitFor("acknowledged", () => source.acked.length === 1);
    assert.ok((at[2] ?? 0) - (at[1] ?? 0) >= 149, "waited as Retry-After asked");
    stop.abort();
    await running;
    assert.deepEqual(sink.attempts, [["u-a/1"], ["u-a/1"], ["u-a/1"]]);
    const status = exporter.status();
    assert.equal(status.retries, 2);
    assert.equal(status.failures, 2);
    assert.equal(status.delivered, 1);
    assert.equal(status.lastError, undefined);
    const text = await registry.metrics();
    assert.match(text, /kindwatch_export_events_delivered_total\{sink="scripted"\} 1/);
    assert.match(text, /kindwatch_export_retries_total\{sink="scripted"\} 2/);
    assert.match(text, /kindwatch_export_lag_seconds_count\{sink="scripted"\} 1/);
  });

  it("stops with a one-line error when the sink refuses for good, acknowledging nothing of that batch", async () => {
    const source = new ScriptedSource();
    const sink = new ScriptedSink(10);
    sink.answer = async () => {
      throw new SinkError("HTTP 400: bad event", { retryable: false });
    };
    const exporter = new Exporter({ sink, clusterName: "c", ...quiet });
    source.push(ev("a", 1));
    await assert.rejects(exporter.run(source), (err: unknown) => {
      assert.ok(err instanceof ExportError);
      assert.equal(err.message, "scripted refused 1 event(s) for good: HTTP 400: bad event");
      return true;
    });
    assert.deepEqual(source.acked, []);
    assert.equal(sink.attempts.length, 1, "not retried");
  });

  it("reads no more than maxPending events while the sink is slow", async () => {
    const source = new ScriptedSource();
    const sink = new ScriptedSink(4);
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    sink.answer = () => held;
    const exporter = new Exporter({ sink, clusterName: "c", maxPending: 10, maxInFlight: 2, ...quiet });
    for (let rv = 1; rv <= 100; rv++) source.push(ev(`o${rv}`, rv));
    const stop = new AbortController();
    const running = exporter.run(source, stop.signal);
    await waitFor("two batches in flight", () => sink.attempts.length === 2);
    await ticks(50);
    assert.equal(source.taken, 10, "the reader waits for room");
    assert.equal(exporter.status().pending, 10);
    release();
    await waitFor("all delivered", () => source.acked.length === 100);
    stop.abort();
    await running;
  });

  it("merges an object's unsent changes into its newest state only with latestState", async () => {
    for (const latestState of [false, true]) {
      const source = new ScriptedSource();
      const sink = new ScriptedSink(10);
      let release: () => void = () => {};
      const held = new Promise<void>((r) => {
        release = r;
      });
      sink.answer = (attempt) => (attempt === 1 ? held : Promise.resolve());
      const exporter = new Exporter({ sink, clusterName: "c", latestState, ...quiet });
      const stop = new AbortController();
      const running = exporter.run(source, stop.signal);
      source.push(ev("a", 1, "ADDED"));
      await waitFor("a's first change sent", () => sink.attempts.length === 1);
      source.push(ev("a", 2), ev("a", 3), ev("a", 4, "DELETED"));
      await waitFor("all read", () => source.taken === 4);
      release();
      await waitFor("all acknowledged", () => source.acked.length === 4);
      stop.abort();
      await running;
      assert.deepEqual(
        sink.delivered,
        latestState ? ["u-a/1", "u-a/4"] : ["u-a/1", "u-a/2", "u-a/3", "u-a/4"],
        `latestState ${latestState}`,
      );
      assert.deepEqual(
        source.acked.map((e) => (e as ObjectEvent).resourceVersion),
        ["1", "2", "3", "4"],
      );
    }
  });

  it("on stop, gives up what the sink did not acknowledge within drainMs: it is not acknowledged", async () => {
    const source = new ScriptedSource();
    const sink = new ScriptedSink(10);
    sink.answer = (_attempt, batch) =>
      batch.some((d) => d.key === "u-stuck") ? new Promise(() => {}) : Promise.resolve();
    const exporter = new Exporter({ sink, clusterName: "c", drainMs: 100, maxInFlight: 1, ...quiet });
    const stop = new AbortController();
    const running = exporter.run(source, stop.signal);
    source.push(ev("ok", 1));
    await waitFor("ok acknowledged", () => source.acked.length === 1);
    source.push(ev("stuck", 2), ev("later", 3));
    await waitFor("stuck sent", () => sink.attempts.length === 2);
    stop.abort();
    await running;
    assert.deepEqual(
      source.acked.map((e) => (e as ObjectEvent).name),
      ["ok"],
    );
  });
});

describe("Exporter: selection", () => {
  it("acknowledges the events it does not deliver at once", async () => {
    const source = new ScriptedSource();
    const sink = new ScriptedSink(10);
    const exporter = new Exporter({
      sink,
      clusterName: "c",
      accepts: (e) => (e as ObjectEvent).name !== "skip",
      ...quiet,
    });
    const stop = new AbortController();
    const running = exporter.run(source, stop.signal);
    source.push(ev("a", 1), ev("skip", 2), ev("b", 3));
    await waitFor("all acknowledged", () => source.acked.length === 3);
    stop.abort();
    await running;
    assert.deepEqual(sink.delivered, ["u-a/1", "u-b/3"]);
  });
});
