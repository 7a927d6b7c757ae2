/** Watches against a real server: event order, timeouts, aborts, streaming lists, selectors and metadata-only watches. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { WatchEvent } from "../../src/client/index.js";
import { ApiError } from "../../src/http/index.js";
import type { KubeObject } from "../../src/object/types.js";
import {
  type Client,
  type ClientEnv,
  clientEnv,
  collect,
  configMap,
  configMapsGvr,
  createWidgetCrd,
  deployment,
  deploymentsGvr,
  type WidgetKind,
  widget,
} from "../support/client.js";
import { outcome, waitFor } from "../support/wait.js";

type Change = Exclude<WatchEvent<KubeObject>, { type: "ERROR" }>;

const changes = (events: readonly WatchEvent[]) =>
  events.filter((e): e is Change => e.type !== "BOOKMARK" && e.type !== "ERROR");
const isInitialEventsEnd = (e: WatchEvent | undefined) =>
  e?.type === "BOOKMARK" && e.object.metadata.annotations?.["k8s.io/initial-events-end"] === "true";
const summary = (events: readonly WatchEvent[]) => changes(events).map((e) => `${e.type} ${e.object.metadata.name}`);

describe("dynamic client: watch", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let widgets: Client;
  let configMaps: Client;
  let signal: AbortSignal;
  const stop = new AbortController();

  before(async () => {
    env = await clientEnv("client-watch");
    kind = await createWidgetCrd(env.client);
    widgets = env.client.resource(kind.gvr).namespace(env.namespace);
    configMaps = env.client.resource(configMapsGvr).namespace(env.namespace);
    // Every watch here also ends with the file, so that a failed assertion cannot leave one open.
    signal = AbortSignal.any([stop.signal, AbortSignal.timeout(60_000)]);
  });

  after(async () => {
    stop.abort();
    await kind?.remove();
    await env?.close();
  });

  /** Makes `before` (already there), then lists, then creates, changes and deletes `name`; watches from the list. */
  async function addModifyDelete(client: Client, make: (name: string) => KubeObject, change: (o: KubeObject) => void) {
    await client.create(make("earlier"));
    const { metadata } = await client.list();
    const created = await client.create(make("changing"));
    const name = created.metadata.name ?? "";
    change(created);
    const modified = await client.update(created);
    await client.delete(name);
    const events = await collect(client.watch({ resourceVersion: metadata.resourceVersion, signal }), (seen) =>
      seen.some((e) => e.type === "DELETED"),
    );
    assert.deepEqual(summary(events), [`ADDED ${name}`, `MODIFIED ${name}`, `DELETED ${name}`]);
    const [added, mod, deleted] = changes(events);
    assert.equal(added?.object.metadata.resourceVersion, created.metadata.resourceVersion);
    assert.equal(mod?.object.metadata.resourceVersion, modified.metadata.resourceVersion);
    assert.equal(deleted?.object.metadata.uid, created.metadata.uid);
    return { modified: mod?.object };
  }

  it("delivers ADDED, MODIFIED, DELETED in order for a custom kind's changes after a list", async () => {
    const { modified } = await addModifyDelete(
      widgets,
      (name) => widget(kind, name, { size: 1 }),
      (w) => {
        w.spec = { size: 2 };
      },
    );
    assert.deepEqual(modified?.spec, { size: 2 });
  });

  it("delivers ADDED, MODIFIED, DELETED in order for ConfigMaps", async () => {
    const { modified } = await addModifyDelete(
      configMaps,
      (name) => configMap(`cm-${name}`, { v: "1" }),
      (c) => {
        c.data = { v: "2" };
      },
    );
    assert.deepEqual(modified?.data, { v: "2" });
  });

  it("delivers ADDED, MODIFIED, DELETED in order for Deployments", async () => {
    const deployments = env.client.resource(deploymentsGvr).namespace(env.namespace);
    const { modified } = await addModifyDelete(
      deployments,
      (name) => deployment(`d-${name}`),
      (d) => {
        (d.spec as { replicas: number }).replicas = 4;
      },
    );
    assert.deepEqual((modified?.spec as { replicas?: number } | undefined)?.replicas, 4);
  });

  it("starts with ADDED for what exists when given no resourceVersion", async () => {
    await configMaps.create(configMap("existing-a", {}, { watch: "existing" }));
    await configMaps.create(configMap("existing-b", {}, { watch: "existing" }));
    const events = await collect(
      configMaps.watch({ labelSelector: "watch=existing", signal }),
      (seen) => changes(seen).length === 2,
    );
    assert.deepEqual(summary(events).sort(), ["ADDED existing-a", "ADDED existing-b"]);
  });

  it("ends the iteration when the server's timeoutSeconds runs out", async () => {
    const { metadata } = await configMaps.list({ limit: 1 });
    const started = performance.now();
    const events: WatchEvent[] = [];
    for await (const e of configMaps.watch({
      resourceVersion: metadata.resourceVersion,
      timeoutSeconds: 1,
      labelSelector: "nothing=here",
      signal,
    })) {
      events.push(e);
    }
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds >= 0.9 && seconds < 10, `ended after ${seconds.toFixed(2)} s`);
    assert.deepEqual(changes(events), []);
  });

  it("ends with a Timeout ApiError when its own timeoutMs runs out first", async () => {
    const started = performance.now();
    const err = await collect(
      configMaps.watch({ labelSelector: "nothing=here", timeoutMs: 500, signal }),
      () => false,
    ).then(
      () => assert.fail("the watch ended without an error"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApiError && err.kind === "Timeout", String(err));
    assert.ok(performance.now() - started < 10_000);
  });

  it("ends with an Aborted ApiError when the signal fires, waiting or not", async () => {
    const aborter = new AbortController();
    const { metadata } = await configMaps.list({ limit: 1 });
    const iterator = configMaps.watch({ resourceVersion: metadata.resourceVersion, signal: aborter.signal });
    await configMaps.create(configMap("abort-me"));
    await configMaps.patch("abort-me", { data: { later: "changed" } }, "merge");
    const first = await iterator.next();
    assert.equal(first.done, false);
    // The MODIFIED event is on its way or queued already: none may come out after the abort.
    const pending = iterator.next();
    aborter.abort();
    const err = await pending.then(
      () => assert.fail("the watch went on after its signal fired"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.kind, "Aborted");
    assert.equal((await iterator.next()).done, true, "an aborted watch stays ended");

    const already = configMaps.watch({ signal: AbortSignal.abort() });
    await assert.rejects(already.next(), (e: unknown) => e instanceof ApiError && e.kind === "Aborted");
  });

  it("ends a watch at once when its signal fires while the server sends nothing, pulled or pushed", async () => {
    const { metadata } = await configMaps.list({ limit: 1 });
    const resourceVersion = metadata.resourceVersion;
    const isAborted = (e: object | undefined) => e instanceof ApiError && e.kind === "Aborted" && e;

    const pulled = new AbortController();
    let pulledOpen = false;
    const iterator = configMaps.watch({ resourceVersion, signal: pulled.signal, onOpen: () => (pulledOpen = true) });
    const next = outcome(iterator.next());
    await waitFor("the pulled watch to be open", () => pulledOpen);
    pulled.abort();
    await waitFor("the pulled watch to end with Aborted", () => isAborted(next()), { timeoutMs: 5000 });

    const pushed = new AbortController();
    let pushedOpen = false;
    let ended: ApiError | undefined;
    configMaps.watchPush(
      { resourceVersion, signal: pushed.signal, onOpen: () => (pushedOpen = true) },
      {
        events: () => assert.fail("no change was made"),
        end: () => assert.fail("the server did not end it"),
        error: (err) => {
          ended = err;
        },
      },
    );
    await waitFor("the pushed watch to be open", () => pushedOpen);
    pushed.abort();
    await waitFor("the pushed watch to end with Aborted", () => isAborted(ended), { timeoutMs: 5000 });
  });

  it("streams the current state first with sendInitialEvents, ended by a bookmark, then live changes", async () => {
    for (const name of ["s1", "s2", "s3"]) await widgets.create(widget(kind, name, {}, { labels: { stream: "yes" } }));
    const stream = widgets.watch({
      sendInitialEvents: true,
      resourceVersionMatch: "NotOlderThan",
      allowWatchBookmarks: true,
      labelSelector: "stream=yes",
      signal,
    });
    const initial = await collect(stream, (seen) => isInitialEventsEnd(seen.at(-1)), { keepOpen: true });
    const end = initial.at(-1) as Change;
    assert.ok(isInitialEventsEnd(end), "the initial events end with the initial-events-end bookmark");
    assert.ok(end.object.metadata.resourceVersion);
    assert.deepEqual(summary(initial).sort(), ["ADDED s1", "ADDED s2", "ADDED s3"]);

    await widgets.patch("s2", { spec: { size: 9 } }, "merge");
    const live = await collect(stream, (seen) => changes(seen).length === 1);
    assert.deepEqual(summary(live), ["MODIFIED s2"]);
    await stream.return(undefined);
  });

  it("applies selectors to watches: an object that stops matching arrives as DELETED", async () => {
    const { metadata } = await configMaps.list({ limit: 1 });
    await configMaps.create(configMap("sel-in", {}, { tier: "front" }));
    await configMaps.create(configMap("sel-out", {}, { tier: "back" }));
    await configMaps.patch("sel-in", { metadata: { labels: { tier: "back" } } }, "merge");
    const events = await collect(
      configMaps.watch({ resourceVersion: metadata.resourceVersion, labelSelector: "tier=front", signal }),
      (seen) => changes(seen).length === 2,
    );
    assert.deepEqual(summary(events), ["ADDED sel-in", "DELETED sel-in"]);

    const byName = await collect(
      configMaps.watch({ resourceVersion: metadata.resourceVersion, fieldSelector: "metadata.name=sel-out", signal }),
      (seen) => changes(seen).length === 1,
    );
    assert.deepEqual(summary(byName), ["ADDED sel-out"]);
  });

  it("watches metadata only: events carry PartialObjectMetadata without the data", async () => {
    const { metadata } = await configMaps.list({ limit: 1 });
    await configMaps.create(configMap("meta-watched", { big: "y".repeat(2048) }, { meta: "yes" }));
    await configMaps.delete("meta-watched");
    const events = await collect(
      configMaps.watchMetadata({ resourceVersion: metadata.resourceVersion, labelSelector: "meta=yes", signal }),
      (seen) => seen.some((e) => e.type === "DELETED"),
    );
    assert.deepEqual(summary(events), ["ADDED meta-watched", "DELETED meta-watched"]);
    for (const e of changes(events)) {
      assert.equal(e.object.kind, "PartialObjectMetadata");
      assert.equal(e.object.apiVersion, "meta.k8s.io/v1");
      assert.equal(e.object.data, undefined);
      assert.equal(e.object.metadata.labels?.meta, "yes");
    }

    // Widgets of its own, with a spec to leave out: the initial events must hold them, not whatever exists already.
    for (const name of ["meta-w1", "meta-w2"])
      await widgets.create(widget(kind, name, { size: 3 }, { labels: { meta: "w" } }));
    const initial = await collect(
      widgets.watchMetadata({ sendInitialEvents: true, labelSelector: "meta=w", signal }),
      (seen) => isInitialEventsEnd(seen.at(-1)),
    );
    assert.ok(isInitialEventsEnd(initial.at(-1)));
    assert.deepEqual(summary(initial).sort(), ["ADDED meta-w1", "ADDED meta-w2"]);
    for (const e of changes(initial)) {
      assert.equal(e.object.kind, "PartialObjectMetadata");
      assert.equal(e.object.spec, undefined);
      assert.equal(e.object.metadata.labels?.meta, "w");
    }
  });
});
