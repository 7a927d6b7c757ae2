/**
 * The Kafka sink against a real broker (kfake, see test/support/kafka.ts): what it writes, read back by a consumer;
 * what it does while the broker is down or hung; what it refuses to retry.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { CloudEvent, Kafka as CloudEventsKafka, type KafkaMessage } from "cloudevents";
import { KafkaSink, type KafkaSinkOptions } from "../../src/sinks/kafka.js";
import { type Delivery, SinkError } from "../../src/sinks/types.js";
import { type ReadRecord, startKafka, type TestKafka } from "../support/kafka.js";
import { outcome, uniqueName, waitFor } from "../support/wait.js";

/** `count` changes spread over `keys` objects, each object's changes in resourceVersion order. */
function deliveries(count: number, keys: number, runId = uniqueName("run")): Delivery[] {
  return Array.from({ length: count }, (_, i) => {
    const uid = `${runId}-uid-${i % keys}`;
    const resourceVersion = String(1000 + i);
    const event = new CloudEvent<unknown>({
      specversion: "1.0",
      id: `${uid}/${resourceVersion}`,
      type: "dev.kindwatch.object.modified",
      source: "kindwatch://test/apis/example.com/v1/namespaces/default/widgets",
      subject: `default/widget-${i % keys}`,
      time: new Date(1_790_000_000_000 + i).toISOString(),
      datacontenttype: "application/json",
      kwgroup: "example.com",
      kwversion: "v1",
      kwkind: "Widget",
      kwresource: "widgets",
      kworigin: "live",
      data: { metadata: { uid, name: `widget-${i % keys}`, resourceVersion }, spec: { n: i } },
    });
    return { event, key: uid };
  });
}

/** The ce_id of each record, grouped by key, in the order the broker stored them (offset order per partition). */
function idsByKey(
  records: readonly ReadRecord[],
  idOf: (r: ReadRecord) => string = (r) => r.headers.ce_id ?? "",
): Map<string, string[]> {
  const sorted = [...records].sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset));
  const byKey = new Map<string, string[]>();
  for (const r of sorted) {
    const ids = byKey.get(r.key ?? "") ?? [];
    ids.push(idOf(r));
    byKey.set(r.key ?? "", ids);
  }
  return byKey;
}

function sentIdsByKey(sent: readonly Delivery[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const d of sent) byKey.set(d.key, [...(byKey.get(d.key) ?? []), d.event.id]);
  return byKey;
}

/** Without repeats: each id kept where it first appears (the receiver's de-duplicated view). */
function firstSeen(byKey: Map<string, string[]>): Map<string, string[]> {
  return new Map([...byKey].map(([key, ids]) => [key, [...new Set(ids)]]));
}

/** A signal nobody aborts. */
const live = () => new AbortController().signal;

describe("Kafka sink", () => {
  let kafka: TestKafka;
  const sinks: KafkaSink[] = [];
  const sink = (options: Partial<KafkaSinkOptions> = {}) => {
    const s = new KafkaSink({ brokers: kafka.brokers, connectionTimeoutMs: 1000, ...options });
    sinks.push(s);
    return s;
  };

  before(async () => {
    kafka = await startKafka({ topics: ["kindwatch", "structured", "outage", "hung", "resent", "big"] });
  });
  after(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await kafka?.stop();
  });

  test("binary mode: each change is a record keyed by uid with ce_* headers and the data as JSON, in order per key", async () => {
    const sent = deliveries(100, 7);
    const s = sink();
    await s.send(sent, live());
    // Resolving means acknowledged: the broker holds every record already, without waiting.
    assert.equal(await kafka.acknowledged("kindwatch"), 100);
    const records = await kafka.read("kindwatch", 100);
    assert.equal(records.length, 100);
    const byId = new Map(records.map((r) => [r.headers.ce_id, r]));
    for (const { event, key } of sent) {
      const r = byId.get(event.id);
      assert.ok(r, `record ${event.id}`);
      assert.equal(r.key, key);
      assert.deepEqual(r.headers, {
        "content-type": "application/json",
        ce_id: event.id,
        ce_type: event.type,
        ce_source: event.source,
        ce_specversion: "1.0",
        ce_subject: event.subject,
        ce_time: event.time,
        ce_datacontenttype: "application/json",
        ce_kwgroup: "example.com",
        ce_kwversion: "v1",
        ce_kwkind: "Widget",
        ce_kwresource: "widgets",
        ce_kworigin: "live",
      });
      assert.deepEqual(JSON.parse(r.value?.toString() ?? "null"), event.data);
      assert.equal(r.timestamp, String(Date.parse(event.time ?? "")));
      // A CloudEvents consumer reads back the very event (the SDK adds the record's key as `partitionkey`).
      const back = CloudEventsKafka.toEvent({
        headers: r.headers,
        key: r.key ?? "",
        value: r.value,
        body: r.value,
      } as KafkaMessage<unknown>);
      assert.deepEqual({ ...(back as CloudEvent<unknown>) }, { ...event, partitionkey: key });
    }
    const partitionsOfKey = new Map<string, Set<number>>();
    for (const r of records)
      partitionsOfKey.set(r.key ?? "", (partitionsOfKey.get(r.key ?? "") ?? new Set()).add(r.partition));
    for (const [key, partitions] of partitionsOfKey) assert.equal(partitions.size, 1, `${key} in one partition`);
    assert.ok(new Set(records.map((r) => r.partition)).size > 1, "7 keys spread over more than one of 3 partitions");
    assert.deepEqual(idsByKey(records), sentIdsByKey(sent));
  });

  test("structured mode: the record's value is the whole event as application/cloudevents+json", async () => {
    const sent = deliveries(10, 3);
    await sink({ topic: "structured", mode: "structured" }).send(sent, live());
    const records = await kafka.read("structured", 10);
    assert.equal(records.length, 10);
    for (const r of records) {
      assert.match(r.headers["content-type"] ?? "", /^application\/cloudevents\+json(;|$)/);
      const body = JSON.parse(r.value?.toString() ?? "null") as { id: string };
      const event = sent.find((d) => d.event.id === body.id);
      assert.ok(event, `record ${body.id}`);
      assert.equal(r.key, event.key);
      assert.deepEqual(body, JSON.parse(JSON.stringify(event.event)));
    }
    const structuredId = (r: ReadRecord) => (JSON.parse(r.value?.toString() ?? "null") as { id: string }).id;
    assert.deepEqual(idsByKey(records, structuredId), sentIdsByKey(sent));
  });

  test("a broker outage rejects the send as retryable; the same batch goes through once the broker is back", async () => {
    const s = sink({ topic: "outage" });
    const first = deliveries(20, 4);
    await s.send(first, live());
    const second = deliveries(20, 4);
    await kafka.kill();
    try {
      const failed = await s.send(second, live()).then(
        () => undefined,
        (err: unknown) => err,
      );
      assert.ok(failed instanceof SinkError, `rejected with a SinkError: ${String(failed)}`);
      assert.equal(failed.retryable, true, failed.message);
    } finally {
      await kafka.restart();
    }
    await waitFor("the batch to be acknowledged after the outage", async () => {
      try {
        await s.send(second, live());
        return true;
      } catch (err) {
        if (!(err instanceof SinkError) || !err.retryable) throw err;
        return false;
      }
    });
    const sent = [...first, ...second];
    const records = await kafka.read("outage", 40);
    // At least once: nothing lost, each object's changes in order once repeats are dropped.
    assert.deepEqual(firstSeen(idsByKey(records)), sentIdsByKey(sent));
  });

  test("aborting gives up a send the broker does not answer; the next send succeeds", async () => {
    const s = sink({ topic: "hung", requestTimeoutMs: 60_000 });
    await s.send(deliveries(5, 5), live());
    const batch = deliveries(5, 5);
    kafka.pause();
    const controller = new AbortController();
    let settled: () => object | undefined;
    try {
      settled = outcome(s.send(batch, controller.signal));
      controller.abort(new Error("shutting down"));
      const err = await waitFor("the aborted send to reject", settled, { timeoutMs: 2000 });
      assert.ok(err instanceof SinkError, String(err));
      assert.equal(err.retryable, true);
    } finally {
      kafka.resume();
    }
    await s.send(batch, live());
    const records = await kafka.read("hung", 10);
    assert.ok(records.some((r) => r.headers.ce_id === batch[4]?.event.id));
  });

  test("a produce re-sent after its answer timed out is stored once (idempotent producer)", async () => {
    const s = sink({ topic: "resent", requestTimeoutMs: 500 });
    const warmup = deliveries(3, 3);
    await s.send(warmup, live());
    const batch = deliveries(30, 3);
    kafka.pause();
    let sending: Promise<void>;
    try {
      sending = s.send(batch, live());
      // The broker stays hung longer than the request timeout, so kafkajs gives the produce up and sends it again:
      // both copies wait in the broker's socket for it to wake up.
      await new Promise((r) => setTimeout(r, 1200));
    } finally {
      kafka.resume();
    }
    await sending.catch(async (err: unknown) => {
      if (!(err instanceof SinkError) || !err.retryable) throw err;
      await s.send(batch, live());
    });
    const sent = [...warmup, ...batch];
    const records = await kafka.read("resent", sent.length);
    assert.equal(await kafka.acknowledged("resent"), sent.length, "no record stored twice");
    assert.deepEqual(idsByKey(records), sentIdsByKey(sent));
  });

  test("a change that cannot be encoded is not retryable", async () => {
    const [change] = deliveries(1, 1);
    assert.ok(change);
    const unencodable: Delivery = { key: change.key, event: { ...change.event, data: { count: 10n } } };
    const err = await sink({ topic: "big" })
      .send([unencodable], live())
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof SinkError, String(err));
    assert.equal(err.retryable, false, err.message);
  });

  test("a record larger than the broker takes is not retryable", async () => {
    const [small] = deliveries(1, 1);
    assert.ok(small);
    const huge: Delivery = {
      key: small.key,
      event: new CloudEvent({ ...small.event, data: { blob: "x".repeat(2 * 1024 * 1024) } }),
    };
    const err = await sink({ topic: "big" })
      .send([huge], live())
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof SinkError, String(err));
    assert.equal(err.retryable, false, err.message);
    assert.match(err.message, /MESSAGE_TOO_LARGE/);
  });
});
