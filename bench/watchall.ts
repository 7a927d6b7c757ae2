/**
 * The watch-all benchmark: how fast the engine picks up a new kind, what a watched kind costs in memory, and how long
 * a start-up over many kinds takes. There is no peer implementation of a watch-all engine to compare with, so it
 * reports kindwatch's own figures and no ratios.
 *
 *   new_kind_ms_p50, new_kind_ms_p99: from a CRD becoming Established (seen by a watch of our own on CRDs) to the
 *     first event of an object of that kind created right then, over 50 CRDs made one after another while the
 *     engine runs (the object's create is retried until the server takes it; that wait is part of the figure).
 *   bytes_per_kind: V8 heap after full collections with 200 kinds watched, minus with 1, per added kind (empty kinds,
 *     a process of its own started with --expose-gc).
 *   sync_200_kinds_s: from start() to every kind synced and every object delivered, 200 CRDs of 50 objects each, a
 *     fresh process per run; with the process's CPU and the API server's (its process_cpu_seconds_total) in that time.
 *     With --list MODE given more than once, each run measures every mode, in an order that rotates from run to run.
 */

import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Informer } from "../src/cache/informer.js";
import { listWatchOf } from "../src/cache/watcher.js";
import { DynamicClient, type ResourceClient } from "../src/client/resource.js";
import { loadConfig } from "../src/config/index.js";
import { DiscoveryClient } from "../src/discovery/client.js";
import { isNotFound } from "../src/http/errors.js";
import { Transport } from "../src/http/transport.js";
import type { KubeObject } from "../src/object/types.js";
import { isEstablished } from "../src/watchall/crds.js";
import { WatchAll } from "../src/watchall/engine.js";
import { crdManifest } from "../test/support/crd-manifest.js";
import { uniqueName, waitFor } from "../test/support/wait.js";
import { runChild } from "./support/child.js";
import { benchCluster, finish } from "./support/cluster.js";
import { describeMachine, machineLines } from "./support/machine.js";
import { type Results, resultLine, table } from "./support/report.js";
import { median, percentile, range } from "./support/stats.js";

const ours = "kindwatch";
const childScript = fileURLToPath(new URL("./watchall-child.js", import.meta.url));
const crdsGvr = { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" };

/** The group of kind `i` of a set (the child names them the same way). */
function groupOf(prefix: string, i: number): string {
  return `${prefix}-${i}.kindwatch.dev`;
}

function crd(group: string): KubeObject {
  return crdManifest({ group, kind: "Gizmo", plural: "gizmos", versions: [{ name: "v1", storage: true }] });
}

function gizmo(group: string, name: string, i: number): KubeObject {
  return {
    apiVersion: `${group}/v1`,
    kind: "Gizmo",
    metadata: { name, labels: { app: "bench" } },
    spec: { replicas: i % 5, image: `registry.example.com/bench/gizmo:1.${i % 10}.0`, owner: "team-benchmarks" },
  };
}

/** Runs `fn` on 0..count-1, `concurrency` at a time. */
async function each(count: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) await fn(i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Creates, retrying while the server does not serve the new kind yet. */
async function createSoon(client: ResourceClient, object: KubeObject): Promise<void> {
  for (;;) {
    try {
      await client.create(object);
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** The API server's own CPU so far (`process_cpu_seconds_total` of its /metrics), in seconds. */
async function serverCpuSeconds(transport: Transport): Promise<number> {
  const res = await transport.request({ path: "/metrics", accept: "text/plain" });
  const line = res.body
    .toString("utf8")
    .split("\n")
    .find((l) => l.startsWith("process_cpu_seconds_total "));
  const value = Number(line?.split(" ")[1]);
  if (!Number.isFinite(value)) throw new Error("the API server's /metrics has no process_cpu_seconds_total");
  return value;
}

/** Runs the watch-all benchmark; prints the table, then the JSON line. */
export async function watchallBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      kinds: { type: "string", default: "200" },
      objects: { type: "string", default: "50" },
      "new-kinds": { type: "string", default: "50" },
      runs: { type: "string", default: "3" },
      concurrency: { type: "string", default: "8" },
      list: { type: "string", multiple: true, default: ["default"] },
      "sync-only": { type: "boolean", default: false },
    },
  });
  const modes = [...new Set(values.list)];
  const syncOnly = values["sync-only"];
  const kinds = Number(values.kinds);
  const objects = Number(values.objects);
  const newKinds = Number(values["new-kinds"]);
  const runs = Number(values.runs);
  const concurrency = Number(values.concurrency);
  for (const [name, n] of Object.entries({ kinds, objects, "new-kinds": newKinds, runs, concurrency })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${n}`);
  }
  if (kinds < 2) throw new Error("--kinds must be at least 2: memory is measured against one kind");
  const log = (line: string) => console.error(line);
  const cluster = await benchCluster(log);
  const transport = new Transport(loadConfig({ kubeconfig: cluster.kubeconfigPath }));
  const client = new DynamicClient(transport);
  const crds = client.resource(crdsGvr);
  const namespaces = client.resource({ group: "", version: "v1", resource: "namespaces" });
  const prefix = uniqueName("wab");
  const newPrefix = uniqueName("wabn");
  const namespace = uniqueName("bench-watchall");
  const made: string[] = [];
  let output: string[];
  try {
    const machine = await describeMachine(transport);
    await namespaces.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });

    log(`creating ${kinds} CRDs`);
    let started = performance.now();
    await each(kinds, 8, async (i) => {
      const group = groupOf(prefix, i);
      await crds.create(crd(group));
      made.push(`gizmos.${group}`);
    });
    await waitFor(
      `${kinds} CRDs to be Established`,
      async () => {
        const list = await crds.list();
        const mine = list.items.filter((c) => c.metadata.name?.includes(`.${prefix}-`) && isEstablished(c));
        return mine.length === kinds;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    const crdSeconds = (performance.now() - started) / 1000;
    const child = (mode: string, extra: string[] = []) => [
      "--mode",
      mode,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--prefix",
      prefix,
      "--kinds",
      String(kinds),
      "--concurrency",
      String(concurrency),
      ...extra,
    ];

    const memory: number[] = [];
    const external: number[] = [];
    for (let run = 0; run < (syncOnly ? 0 : runs); run++) {
      const sample = (await runChild(childScript, child("memory"), 180_000, ["--expose-gc"])) as {
        bytes_per_kind: number;
        external_per_kind: number;
      };
      memory.push(sample.bytes_per_kind);
      external.push(sample.external_per_kind);
      log(`memory run ${run + 1}/${runs}: ${Math.round(sample.bytes_per_kind)} heap bytes per kind`);
    }

    log(`creating ${kinds * objects} objects`);
    started = performance.now();
    await each(kinds * objects, 32, (n) => {
      const group = groupOf(prefix, n % kinds);
      const gizmos = client.resource({ group, version: "v1", resource: "gizmos" }).namespace(namespace);
      return gizmos.create(gizmo(group, `gizmo-${Math.floor(n / kinds)}`, n));
    });
    const objectSeconds = (performance.now() - started) / 1000;

    const syncs = new Map(
      modes.map((m) => [m, { wall: [] as number[], cpu: [] as number[], server: [] as number[], rss: [] as number[] }]),
    );
    for (let run = 0; run < runs; run++) {
      for (let i = 0; i < modes.length; i++) {
        // Interleaved, the first mode of each run rotating: a drift of the machine's load falls on every mode alike.
        const mode = modes[(run + i) % modes.length] as string;
        const serverBefore = await serverCpuSeconds(transport);
        const sample = (await runChild(
          childScript,
          child("sync", ["--objects", String(objects), "--list", mode]),
          300_000,
        )) as { sync_s: number; cpu_s: number; peak_rss_bytes: number; events: number };
        const server = (await serverCpuSeconds(transport)) - serverBefore;
        if (sample.events !== kinds * objects) throw new Error(`sync delivered ${sample.events} objects`);
        const m = syncs.get(mode);
        m?.wall.push(sample.sync_s);
        m?.cpu.push(sample.cpu_s);
        m?.server.push(server);
        m?.rss.push(sample.peak_rss_bytes / 2 ** 20);
        log(
          `sync run ${run + 1}/${runs} (${mode}): ${sample.sync_s.toFixed(2)} s, CPU ${sample.cpu_s.toFixed(2)} s, ` +
            `API server CPU ${server.toFixed(2)} s, peak RSS ${Math.round(sample.peak_rss_bytes / 2 ** 20)} MiB`,
        );
      }
    }

    let newKind: Awaited<ReturnType<typeof measureNewKinds>> | undefined;
    if (!syncOnly) {
      log(`${newKinds} new kinds, one after another`);
      newKind = await measureNewKinds(transport, client, newPrefix, newKinds, namespace, made, log);
    }

    const spread = (xs: number[], show: (v: number) => string) => {
      const { min, max } = range(xs);
      return `${show(min)}..${show(max)}`;
    };
    const ms = (v: number) => v.toFixed(0);
    const secs = (v: number) => v.toFixed(2);
    const mine: Record<string, number> = {};
    const rows: string[][] = [["metric", "kindwatch", "spread", "what"]];
    if (newKind) {
      mine.new_kind_ms_p50 = Number(percentile(newKind.latencies, 50).toFixed(1));
      mine.new_kind_ms_p99 = Number(percentile(newKind.latencies, 99).toFixed(1));
      mine.bytes_per_kind = Math.round(median(memory));
      rows.push(
        [
          "new_kind_ms_p50",
          ms(percentile(newKind.latencies, 50)),
          spread(newKind.latencies, ms),
          "Established -> first event of an object created then",
        ],
        ["new_kind_ms_p99", ms(percentile(newKind.latencies, 99)), "", ""],
        [
          "(kind synced ms p50)",
          ms(percentile(newKind.synced, 50)),
          spread(newKind.synced, ms),
          "Established -> KIND_SYNCED (access review, list, watch)",
        ],
        [
          "(create ms p50)",
          ms(percentile(newKind.creates, 50)),
          spread(newKind.creates, ms),
          "Established -> the server answered the object's create",
        ],
        [
          "(event after create ms p50)",
          ms(percentile(newKind.afterCreate, 50)),
          spread(newKind.afterCreate, ms),
          "create answered -> first event (negative: the event came first)",
        ],
        [
          "bytes_per_kind",
          String(Math.round(median(memory))),
          spread(memory, (v) => String(Math.round(v))),
          `V8 heap per watched empty kind (plus ${Math.round(median(external))} bytes outside the heap)`,
        ],
      );
    }
    for (const [mode, m] of syncs) {
      // The engine's default keeps the metric's usual name; another list mode is named after it.
      const suffix = mode === "default" ? "" : `_${mode}`;
      mine[`sync_${kinds}_kinds_s${suffix}`] = Number(median(m.wall).toFixed(3));
      rows.push(
        [
          `sync_${kinds}_kinds_s${suffix}`,
          secs(median(m.wall)),
          spread(m.wall, secs),
          `start -> ${kinds} kinds synced, ${kinds * objects} objects delivered (list: ${mode})`,
        ],
        [`(CPU s${suffix})`, secs(median(m.cpu)), spread(m.cpu, secs), "the engine's process, user + system"],
        [`(API server CPU s${suffix})`, secs(median(m.server)), spread(m.server, secs), "process_cpu_seconds_total"],
        [`(peak RSS MiB${suffix})`, ms(median(m.rss)), spread(m.rss, ms), "the engine's process"],
      );
    }
    const results: Results = { [ours]: mine };
    output = [
      `watchall: ${kinds} kinds × ${objects} objects, ${syncOnly ? "sync only" : `${newKinds} new kinds`}; engine concurrency ${concurrency}`,
      ...machineLines(machine),
      `setup:      ${kinds} CRDs Established in ${crdSeconds.toFixed(1)} s; ${kinds * objects} objects in ${objectSeconds.toFixed(1)} s`,
      "peer:       none: no other library has a watch-all engine to compare with; kindwatch's figures only, no ratios",
      ...(syncOnly
        ? []
        : [`method:     new_kind over ${newKinds} CRDs made one after another (p99 by nearest rank: the slowest);`]),
      `${syncOnly ? "method:     sync" : "            bytes_per_kind and sync"}: medians of ${runs} runs, each a fresh process` +
        (modes.length > 1 ? `; list modes ${modes.join(", ")} interleaved` : ""),
      "",
      table(rows),
      resultLine("watchall", results, ours),
    ];
  } finally {
    await finish(cluster, transport, { crds: made, namespace });
  }
  console.log(output.join("\n"));
}

/**
 * Makes `count` CRDs one after another while an engine watches their groups; for each, creates an object the moment
 * our own CRD watch sees it Established, and times the engine's first event of that object.
 */
async function measureNewKinds(
  transport: Transport,
  client: DynamicClient,
  prefix: string,
  count: number,
  namespace: string,
  made: string[],
  log: (line: string) => void,
): Promise<{ latencies: number[]; synced: number[]; creates: number[]; afterCreate: number[] }> {
  const groups = Array.from({ length: count }, (_, i) => groupOf(prefix, i));
  const established = new Map<string, number>();
  const createdAt = new Map<string, number>();
  const syncedAt = new Map<string, number>();
  const firstEvent = new Map<string, number>();
  const failures: unknown[] = [];

  const observer = new Informer<KubeObject>(listWatchOf(client.resource(crdsGvr)));
  const seen = (c: KubeObject) => {
    const group = (c.spec as { group?: string } | undefined)?.group ?? "";
    if (!groups.includes(group) || established.has(group) || !isEstablished(c)) return;
    established.set(group, performance.now());
    const gizmos = client.resource({ group, version: "v1", resource: "gizmos" }).namespace(namespace);
    createSoon(gizmos, gizmo(group, "first", 0)).then(
      () => createdAt.set(group, performance.now()),
      (err: unknown) => failures.push(err),
    );
  };
  observer.addHandlers({ add: seen, update: (_old, c) => seen(c) });
  observer.start();
  await observer.synced();

  const engine = new WatchAll(
    { transport, client, discovery: new DiscoveryClient(transport) },
    { include: { groups } },
  );
  const consumed = (async () => {
    for await (const e of engine) {
      const now = performance.now();
      if (e.type === "KIND_SYNCED") syncedAt.set(e.group, now);
      if ((e.type === "ADDED" || e.type === "MODIFIED") && !firstEvent.has(e.group)) firstEvent.set(e.group, now);
    }
  })();
  await engine.start();
  try {
    for (const [i, group] of groups.entries()) {
      await client.resource(crdsGvr).create(crd(group));
      made.push(`gizmos.${group}`);
      await waitFor(
        `the first event of ${group}`,
        () => {
          if (failures.length > 0) throw failures[0];
          return firstEvent.has(group) && createdAt.has(group);
        },
        { timeoutMs: 60_000, intervalMs: 5 },
      );
      if ((i + 1) % 10 === 0) log(`new kinds: ${i + 1}/${count}`);
    }
  } finally {
    await engine.stop();
    await consumed;
    await observer.stop();
  }
  const since = (m: Map<string, number>) => groups.map((g) => (m.get(g) ?? Number.NaN) - (established.get(g) ?? 0));
  const afterCreate = groups.map((g) => (firstEvent.get(g) ?? Number.NaN) - (createdAt.get(g) ?? Number.NaN));
  return { latencies: since(firstEvent), synced: since(syncedAt), creates: since(createdAt), afterCreate };
}
