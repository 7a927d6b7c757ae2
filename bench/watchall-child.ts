/**
 * One measurement of the watch-all engine in a process of its own, printing one JSON object as its last line.
 *
 *   node dist/bench/watchall-child.js --mode sync --kubeconfig PATH --prefix P --kinds 200 --objects 50 [--list L]
 *     time until every kind is synced and every object delivered, the process's CPU in that time and its peak RSS:
 *     {"sync_s", "cpu_s", "peak_rss_bytes", "events"}; L is how the informers list (see listModes)
 *   node --expose-gc dist/bench/watchall-child.js --mode memory --kubeconfig PATH --prefix P --kinds 200
 *     heap after gc with all kinds watched minus with the first only, per added kind: {"bytes_per_kind", ...}
 *
 * Kind i is the CRD `gizmos.P-i.kindwatch.dev`, made by the parent (bench/watchall.ts).
 */
import { parseArgs } from "node:util";
import type { InformerOptions } from "../src/cache/informer.js";
import { DynamicClient } from "../src/client/resource.js";
import { loadConfig } from "../src/config/index.js";
import { DiscoveryClient, discoveryNow } from "../src/discovery/client.js";
import { Transport } from "../src/http/transport.js";
import type { KubeObject } from "../src/object/types.js";
import { WatchAll, type WatchAllCluster } from "../src/watchall/engine.js";
import type { WatchAllEvent } from "../src/watchall/types.js";

const { values } = parseArgs({
  options: {
    mode: { type: "string" },
    kubeconfig: { type: "string" },
    prefix: { type: "string" },
    kinds: { type: "string" },
    objects: { type: "string", default: "0" },
    concurrency: { type: "string", default: "8" },
    list: { type: "string", default: "default" },
  },
});

/** The informers' initial list: the engine's default, or a paginated list read consistently or from the watch cache. */
const listModes: Readonly<Record<string, InformerOptions<KubeObject>>> = {
  default: {},
  streaming: { streamingList: true },
  paged: { streamingList: false },
  "paged-rv0": { streamingList: false, initialListResourceVersion: "0" },
};
const { mode, kubeconfig, prefix } = values;
if (!mode || !kubeconfig || !prefix) throw new Error("watchall-child needs --mode, --kubeconfig and --prefix");
const kinds = Number(values.kinds);
const objects = Number(values.objects);
const concurrency = Number(values.concurrency);
const informer = listModes[values.list ?? "default"];
if (!informer) throw new Error(`unknown --list ${values.list}: expected one of ${Object.keys(listModes).join(", ")}`);

// Named as the parent names them.
const groups = Array.from({ length: kinds }, (_, i) => `${prefix}-${i}.kindwatch.dev`);
const transport = new Transport(loadConfig({ kubeconfig }));
const discovery = new DiscoveryClient(transport);
const cluster: WatchAllCluster = { transport, client: new DynamicClient(transport), discovery };

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

/** Heap in use after full collections, once the engine's first discovery refresh is in. */
async function settledHeap(since: number): Promise<{ heap: number; external: number }> {
  while ((discovery.cached?.fetchedAt ?? 0) < since) await discovery.refresh();
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("memory mode needs node --expose-gc");
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, external: m.external };
}

if (mode === "sync") {
  const expected = kinds * objects;
  let added = 0;
  let syncedKinds = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const engine = await runUntil(groups, (e) => {
    if (e.type === "ADDED") added++;
    if (e.type === "KIND_SYNCED") syncedKinds++;
    return syncedKinds === kinds && added === expected;
  });
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await engine.stop();
  await transport.close();
  const peakRss = process.resourceUsage().maxRSS * 1024;
  console.log(
    JSON.stringify({ sync_s: seconds, cpu_s: (used.user + used.system) / 1e6, peak_rss_bytes: peakRss, events: added }),
  );
} else if (mode === "memory") {
  const first = groups.slice(0, 1);
  const t0 = discoveryNow();
  const one = await runUntil(first, synced(1));
  const base = await settledHeap(t0);
  await one.stop();
  const t1 = discoveryNow();
  const all = await runUntil(groups, synced(kinds));
  const full = await settledHeap(t1);
  await all.stop();
  await transport.close();
  const added = kinds - 1;
  console.log(
    JSON.stringify({
      bytes_per_kind: (full.heap - base.heap) / added,
      external_per_kind: (full.external - base.external) / added,
      heap_one_kind: base.heap,
      heap_all_kinds: full.heap,
    }),
  );
} else {
  throw new Error(`unknown mode ${mode}: expected sync or memory`);
}
