/**
 * kindwatch's side of the watch-all benchmark, one measurement in a process of its own (the Go program is client-go's).
 *
 *   node --expose-gc dist/bench/watchall-child.js --mode sync --kubeconfig PATH --groups G1,G2,... --objects 50
 *       [--list L] [--new-groups N1,N2,...]
 *     time until every kind is synced and every object delivered, the process's CPU in that time and its peak RSS,
 *     then its RSS after full collections: {"sync_s", "cpu_s", "peak_rss_bytes", "events", "rss_bytes"}; L is how
 *     the informers list (see listModes). It then keeps watching (the parent counts its connections) and takes
 *     commands on stdin: "newkinds" reports new kinds of the groups N1,... (included from the start, made by the
 *     parent only now) as the newkinds mode does, from {"ready"} on, while every kind of G1,... is still watched;
 *     "done" ends it with {"done"}.
 *   node --expose-gc dist/bench/watchall-child.js --mode memory --kubeconfig PATH --groups G1,G2,...
 *     heap + external memory after gc with every kind watched minus with the first only, per added kind:
 *     {"bytes_per_kind", "heap_per_kind", "external_per_kind", ...}
 *   node dist/bench/watchall-child.js --mode newkinds --kubeconfig PATH --groups G1,G2,...
 *     {"ready"} once watching, then as it happens {"group", "established"} (a CRD informer of this process saw the CRD
 *     Established), {"group", "synced"} (KIND_SYNCED delivered) and {"group", "event"} (the kind's first object
 *     event), in CLOCK_MONOTONIC milliseconds (see support/newkinds.ts); "done" on stdin ends it.
 *
 * Group i is the CRD `gizmos.G`, made by the parent (bench/watchall.ts). With --http1 the transport speaks HTTP/1.1
 * (`http2: false`: a connection per watch), the kindwatch-http1 implementation.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { Informer, type InformerOptions } from "../src/cache/informer.js";
import { listWatchOf } from "../src/cache/watcher.js";
import { DynamicClient } from "../src/client/resource.js";
import { loadConfig } from "../src/config/index.js";
import { DiscoveryClient, discoveryNow } from "../src/discovery/client.js";
import { Transport } from "../src/http/transport.js";
import type { KubeObject } from "../src/object/types.js";
import { isEstablished } from "../src/watchall/crds.js";
import { WatchAll, type WatchAllCluster } from "../src/watchall/engine.js";
import type { WatchAllEvent } from "../src/watchall/types.js";
import { monotonicMs } from "./support/newkinds.js";

const { values } = parseArgs({
  options: {
    mode: { type: "string" },
    kubeconfig: { type: "string" },
    groups: { type: "string" },
    objects: { type: "string", default: "0" },
    concurrency: { type: "string", default: "8" },
    list: { type: "string", default: "default" },
    "new-groups": { type: "string", default: "" },
    http1: { type: "boolean", default: false },
  },
});

/** The informers' initial list: the engine's default, or a paginated list read consistently or from the watch cache. */
const listModes: Readonly<Record<string, InformerOptions<KubeObject>>> = {
  default: {},
  streaming: { streamingList: true },
  paged: { streamingList: false },
  "paged-rv0": { streamingList: false, initialListResourceVersion: "0" },
};
const { mode, kubeconfig } = values;
if (!mode || !kubeconfig || !values.groups) throw new Error("watchall-child needs --mode, --kubeconfig and --groups");
const groups = values.groups.split(",");
const newGroups = (values["new-groups"] ?? "").split(",").filter(Boolean);
const kinds = groups.length;
const objects = Number(values.objects);
const concurrency = Number(values.concurrency);
const informer = listModes[values.list ?? "default"];
if (!informer) throw new Error(`unknown --list ${values.list}: expected one of ${Object.keys(listModes).join(", ")}`);

const transport = new Transport(loadConfig({ kubeconfig }), { http2: !values.http1 });
const discovery = new DiscoveryClient(transport);
const client = new DynamicClient(transport);
const cluster: WatchAllCluster = { transport, client, discovery };

/** Runs an engine on `include` until `done` says so; resolves with the engine, still running. */
async function runUntil(include: readonly string[], done: (e: WatchAllEvent) => boolean): Promise<WatchAll> {
  const engine = new WatchAll(cluster, { include: { groups: include }, concurrency, informer });
  const iterator = engine[Symbol.asyncIterator]();
  await engine.start();
  for (;;) {
    const next = await iterator.next();
    if (next.done) throw new Error("the stream ended early");
    if (done(next.value)) break;
  }
  // Keep taking events so that the engine is not held by backpressure while it is measured.
  void (async () => {
    for (let next = await iterator.next(); !next.done; next = await iterator.next());
  })();
  return engine;
}

function synced(count: number): (e: WatchAllEvent) => boolean {
  let n = 0;
  return (e) => e.type === "KIND_SYNCED" && ++n === count;
}

/** Full collections, a turn of the event loop between them so that finalizers and weak callbacks run. */
async function collect(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error(`${mode} mode needs node --expose-gc`);
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
}

/** Heap and external memory after full collections, once the engine's first discovery refresh is in. */
async function settledMemory(since: number): Promise<{ heap: number; external: number }> {
  while ((discovery.cached?.fetchedAt ?? 0) < since) await discovery.refresh();
  await collect();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
}

function report(line: Record<string, unknown>): void {
  console.log(JSON.stringify(line));
}

/**
 * A CRD informer of this process's own, reporting when it sees the CRD of each of `wanted`'s groups Established; the
 * engine's KIND_ADDED comes later (after discovery), and client-go's program reports the same moment from its CRD
 * informer.
 */
async function watchEstablished(wanted: ReadonlySet<string>): Promise<Informer<KubeObject>> {
  const established = new Set<string>();
  const observer = new Informer<KubeObject>(
    listWatchOf(
      client.resource({ group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" }),
    ),
  );
  const seen = (crd: KubeObject) => {
    const group = (crd.spec as { group?: string } | undefined)?.group ?? "";
    if (!wanted.has(group) || established.has(group) || !isEstablished(crd)) return;
    established.add(group);
    report({ group, established: monotonicMs() });
  };
  observer.addHandlers({ add: seen, update: (_old, crd) => seen(crd) });
  observer.start();
  await observer.synced();
  return observer;
}

/** Reports the moments of the new kinds of `fresh`'s groups: synced, and the first object event delivered. */
function newKindReporter(fresh: ReadonlySet<string>): (e: WatchAllEvent) => void {
  const delivered = new Set<string>();
  return (e) => {
    if (!fresh.has(e.group)) return;
    if (e.type === "KIND_SYNCED") report({ group: e.group, synced: monotonicMs() });
    if ((e.type === "ADDED" || e.type === "MODIFIED") && !delivered.has(e.group)) {
      delivered.add(e.group);
      report({ group: e.group, event: monotonicMs() });
    }
  };
}

/** Resolves on a "done" line on stdin, running `onLine` for every other line first. */
async function untilDone(onLine: (line: string) => Promise<void> = async () => {}): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line.trim() === "done") break;
    await onLine(line.trim());
  }
  lines.close();
  // The parent keeps its end open: an open stdin would keep this process alive.
  process.stdin.destroy();
}

/** Follows the new kinds the parent makes and reports when each is seen, synced and first delivers an object. */
async function newKinds(): Promise<void> {
  const observer = await watchEstablished(new Set(groups));
  const engine = new WatchAll(cluster, { include: { groups }, concurrency, informer });
  const reportNew = newKindReporter(new Set(groups));
  const consumed = (async () => {
    for await (const e of engine) reportNew(e);
  })();
  await engine.start();
  report({ ready: true });
  await untilDone();
  await engine.stop();
  await consumed;
  await observer.stop();
  await transport.close();
  report({ done: true });
}

/**
 * Syncs every kind of `groups` and reports the figures; then, still watching them all, follows the new kinds of
 * `newGroups` once told "newkinds", until "done".
 */
async function syncThenNewKinds(): Promise<void> {
  const expected = kinds * objects;
  let added = 0;
  let syncedKinds = 0;
  let allSynced = () => {};
  const synced = new Promise<void>((resolve) => {
    allSynced = resolve;
  });
  const fresh = new Set(newGroups);
  const reportNew = newKindReporter(fresh);
  const started = performance.now();
  const cpu = process.cpuUsage();
  const engine = new WatchAll(cluster, { include: { groups: [...groups, ...newGroups] }, concurrency, informer });
  const consumed = (async () => {
    for await (const e of engine) {
      if (fresh.has(e.group)) {
        reportNew(e);
        continue;
      }
      if (e.type === "ADDED") added++;
      if (e.type === "KIND_SYNCED") syncedKinds++;
      if (syncedKinds === kinds && added === expected) allSynced();
    }
  })();
  await engine.start();
  await synced;
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const peakRss = process.resourceUsage().maxRSS * 1024;
  await collect();
  report({
    sync_s: seconds,
    cpu_s: (used.user + used.system) / 1e6,
    peak_rss_bytes: peakRss,
    events: added,
    rss_bytes: process.memoryUsage().rss,
  });
  let observer: Informer<KubeObject> | undefined;
  await untilDone(async (line) => {
    if (line !== "newkinds" || observer) return;
    observer = await watchEstablished(fresh);
    report({ ready: true });
  });
  await engine.stop();
  await consumed;
  await observer?.stop();
  await transport.close();
  report({ done: true });
}

if (mode === "sync") {
  await syncThenNewKinds();
} else if (mode === "memory") {
  const t0 = discoveryNow();
  const one = await runUntil(groups.slice(0, 1), synced(1));
  const base = await settledMemory(t0);
  await one.stop();
  const t1 = discoveryNow();
  const all = await runUntil(groups, synced(kinds));
  const full = await settledMemory(t1);
  await all.stop();
  await transport.close();
  const added = kinds - 1;
  const heap = (full.heap - base.heap) / added;
  const external = (full.external - base.external) / added;
  report({
    bytes_per_kind: heap + external,
    heap_per_kind: heap,
    external_per_kind: external,
    heap_one_kind: base.heap,
    heap_all_kinds: full.heap,
  });
} else if (mode === "newkinds") {
  await newKinds();
} else {
  throw new Error(`unknown mode ${mode}: expected sync, memory or newkinds`);
}
