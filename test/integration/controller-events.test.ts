/** EventRecorder against the real server: events.k8s.io/v1 Events, repeats as a series, a rate limit per object. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { LogLevel } from "../../src/cache/log.js";
import { DynamicClient } from "../../src/client/resource.js";
import { EventRecorder, type EventRecorderOptions } from "../../src/controller/events.js";
import type { KubeObject } from "../../src/object/types.js";
import { type Client, type ClientEnv, clientEnv, configMap, configMapsGvr } from "../support/client.js";
import { waitFor } from "../support/wait.js";
import { type CountingTransport, countingTransportFor } from "../support/watchall.js";

interface Event extends KubeObject {
  reportingController?: string;
  reportingInstance?: string;
  action?: string;
  reason?: string;
  note?: string;
  type?: string;
  regarding?: Record<string, string>;
  related?: Record<string, string>;
  series?: { count: number; lastObservedTime: string };
}

describe("EventRecorder", () => {
  let env: ClientEnv;
  let counting: CountingTransport;
  let events: Client;
  let configMaps: Client;
  let owner: KubeObject;
  const recorders: EventRecorder[] = [];
  const logs: { level: LogLevel; message: string; fields: Record<string, unknown> }[] = [];

  const recorder = (options: Partial<EventRecorderOptions> = {}) => {
    const r = new EventRecorder(new DynamicClient(counting), {
      reportingController: "kindwatch.dev/test-controller",
      reportingInstance: "test-0",
      logger: (level, message, fields = {}) => logs.push({ level, message, fields }),
      ...options,
    });
    recorders.push(r);
    return r;
  };
  /** The Events about the object named `name`, read back from the server. */
  const eventsAbout = async (name: string) =>
    ((await events.list()).items as Event[]).filter((e) => e.regarding?.name === name);
  const eventWrites = () => counting.calls.filter((c) => c.path.includes("/events") && c.method !== "GET");

  before(async () => {
    env = await clientEnv("ctrl-events");
    counting = countingTransportFor(env.cluster.kubeconfigPath);
    events = env.client
      .resource({ group: "events.k8s.io", version: "v1", resource: "events" })
      .namespace(env.namespace);
    configMaps = env.client.resource(configMapsGvr).namespace(env.namespace);
    owner = await configMaps.create(configMap("owner"));
  });

  after(async () => {
    for (const r of recorders) await r.close();
    await counting?.close();
    await env?.close();
  });

  it("creates an events.k8s.io/v1 Event with every field", async () => {
    const cm = await configMaps.create(configMap("first"));
    const r = recorder();
    r.record(cm, {
      type: "Warning",
      reason: "InvalidSpec",
      action: "Reconcile",
      note: "size must be positive",
      related: owner,
    });
    await r.flush();
    const [event, ...rest] = await eventsAbout("first");
    assert.equal(rest.length, 0);
    assert.ok(event);
    assert.equal(event.metadata.namespace, env.namespace);
    assert.match(event.metadata.name ?? "", /^first\.[0-9a-f]+$/);
    assert.deepEqual(
      [event.reportingController, event.reportingInstance, event.type, event.reason, event.action, event.note],
      ["kindwatch.dev/test-controller", "test-0", "Warning", "InvalidSpec", "Reconcile", "size must be positive"],
    );
    assert.deepEqual(event.regarding, {
      apiVersion: "v1",
      kind: "ConfigMap",
      name: "first",
      namespace: env.namespace,
      uid: cm.metadata.uid,
    });
    assert.deepEqual(event.related, {
      apiVersion: "v1",
      kind: "ConfigMap",
      name: "owner",
      namespace: env.namespace,
      uid: owner.metadata.uid,
    });
    assert.equal(event.series, undefined);
  });

  it("aggregates repeats into one Event with a series, written on flush rather than once per repeat", async () => {
    const cm = await configMaps.create(configMap("repeats"));
    const r = recorder();
    const writesBefore = eventWrites().length;
    for (let i = 0; i < 50; i++) {
      r.record(cm, { type: "Normal", reason: "Synced", action: "Reconcile", note: `pass ${i}` });
    }
    await r.flush();
    const [event, ...rest] = await eventsAbout("repeats");
    assert.equal(rest.length, 0, "one Event for 50 isomorphic occurrences");
    assert.equal(event?.series?.count, 50);
    assert.equal(event?.note, "pass 0", "the note is the first occurrence's");
    const writes = eventWrites().length - writesBefore;
    assert.ok(writes <= 3, `a create, the first repeat's series, the flushed count: ${writes} writes`);
    assert.equal(r.stats.aggregated, 49);

    // Another reason is another Event.
    r.record(cm, { type: "Normal", reason: "Scaled", action: "Scale" });
    await r.flush();
    assert.deepEqual((await eventsAbout("repeats")).map((e) => e.reason).sort(), ["Scaled", "Synced"]);
  });

  it("writes an open series' count periodically without a flush", async () => {
    const cm = await configMaps.create(configMap("periodic"));
    const r = recorder({ seriesRefreshMs: 100 });
    for (let i = 0; i < 7; i++) r.record(cm, { type: "Normal", reason: "Tick", action: "Poll" });
    await waitFor(
      "the series count on the server",
      async () => (await eventsAbout("periodic"))[0]?.series?.count === 7,
    );
  });

  it("starts a new Event once a series has been quiet for the window", async () => {
    const cm = await configMaps.create(configMap("window"));
    let now = Date.now();
    const r = recorder({ seriesWindowMs: 60_000, now: () => now });
    r.record(cm, { type: "Normal", reason: "Again", action: "Poll" });
    r.record(cm, { type: "Normal", reason: "Again", action: "Poll" });
    now += 61_000;
    r.record(cm, { type: "Normal", reason: "Again", action: "Poll" });
    await r.flush();
    const found = await eventsAbout("window");
    assert.deepEqual(found.map((e) => e.series?.count ?? 1).sort(), [1, 2]);
  });

  it("rate limits per object: a burst, then drops, while another object still gets its Events", async () => {
    const noisy = await configMaps.create(configMap("noisy"));
    const quiet = await configMaps.create(configMap("quiet"));
    let now = Date.now();
    const r = recorder({ burst: 3, refillPerSecond: 1, now: () => now });
    for (let i = 0; i < 8; i++) r.record(noisy, { type: "Warning", reason: `Failure${i}`, action: "Reconcile" });
    r.record(quiet, { type: "Normal", reason: "Fine", action: "Reconcile" });
    await r.flush();
    assert.equal((await eventsAbout("noisy")).length, 3);
    assert.equal((await eventsAbout("quiet")).length, 1);
    assert.equal(r.stats.dropped, 5);
    assert.equal(
      logs.filter((l) => l.message.includes("too many") && l.fields.regarding === `ConfigMap ${env.namespace}/noisy`)
        .length,
      1,
    );
    // The allowance grows back with time.
    now += 2_000;
    for (let i = 0; i < 4; i++) r.record(noisy, { type: "Warning", reason: `Later${i}`, action: "Reconcile" });
    await r.flush();
    assert.equal((await eventsAbout("noisy")).length, 5);
  });

  it("never throws at the caller: malformed objects and rejected Events are logged", async () => {
    const r = recorder();
    const before = logs.length;
    assert.doesNotThrow(() =>
      r.record({ apiVersion: "v1", kind: "ConfigMap", metadata: {} }, { type: "Normal", reason: "X", action: "Y" }),
    );
    // The API refuses a reason over 128 characters: the write fails, the caller never knows.
    r.record(owner, { type: "Normal", reason: "R".repeat(200), action: "Y" });
    await r.flush();
    assert.equal(r.stats.failures, 1);
    assert.deepEqual(
      logs.slice(before).map((l) => [l.level, l.message]),
      [
        ["warn", "event dropped: its object has no apiVersion, kind or name"],
        ["warn", "event not written"],
      ],
    );
  });

  it("closes with its AbortSignal: unwritten counts are written, later occurrences dropped", async () => {
    const cm = await configMaps.create(configMap("closing"));
    const stop = new AbortController();
    const r = recorder({ signal: stop.signal });
    for (let i = 0; i < 4; i++) r.record(cm, { type: "Normal", reason: "Busy", action: "Work" });
    await r.flush();
    r.record(cm, { type: "Normal", reason: "Busy", action: "Work" });
    stop.abort();
    await r.close();
    r.record(cm, { type: "Normal", reason: "Busy", action: "Work" });
    r.record(cm, { type: "Normal", reason: "Other", action: "Work" });
    await r.flush();
    const found = await eventsAbout("closing");
    assert.deepEqual(
      found.map((e) => [e.reason, e.series?.count]),
      [["Busy", 5]],
    );
    assert.equal(r.stats.dropped, 2);
  });
});
