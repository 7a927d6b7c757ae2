/**
 * The watch-all benchmark: kindwatch's engine (`WatchAll`) against the same design written with client-go (the Go
 * program's `watchall`: a dynamic informer factory whose informer on CustomResourceDefinitions starts a dynamic
 * informer for each Established CRD's preferred version and stops it when the CRD goes), on the same server;
 * `kindwatch-http1` is kindwatch's engine with its transport on HTTP/1.1 (`http2: false`, a connection per watch).
 *
 *   kind_synced_ms_p50, _p99: a new kind, from its CRD seen Established to the kind synced (kindwatch: KIND_SYNCED
 *     delivered; client-go: the kind's informer HasSynced), over N new CRDs per implementation made one after another.
 *     With --scale, while the process also watches the K kinds it synced; else in processes watching the new kinds only.
 *   event_after_create_ms_p50, _p99: the server answered the create of an object of a new kind -> its event delivered.
 *     The time between the two (Established -> create answered) is the server's: it holds a new kind's first create
 *     for about 2 s, and is shown in the table only.
 *   bytes_per_kind: memory with every kind watched minus with one, per added (empty) kind, after full collections;
 *     kindwatch: V8 heap + external memory; client-go: the process's RSS (Go heap, goroutine stacks, buffers).
 *   sync_K_kinds_s: from start to every kind synced and every object delivered, K CRDs of M objects each; with each
 *     process's CPU and peak RSS and the API server's CPU (its process_cpu_seconds_total) in that time. With --list
 *     MODE, kindwatch's informers list that way (sync_K_kinds_s_MODE); given more than once, each run measures every
 *     mode and client-go, in an order that rotates from run to run. --sync-only skips memory and new kinds.
 *   rss_bytes: the same process's RSS once synced, after full collections (kindwatch: gc(); client-go: runtime.GC()).
 *   connections: the TCP sockets that process holds to the API server's port once synced, counted by the parent from
 *     /proc/PID/fd and /proc/PID/net/tcp{,6} (support/sockets.ts), the same way for every implementation.
 */

import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Informer } from "../src/cache/informer.js";
import { listWatchOf } from "../src/cache/watcher.js";
import { DynamicClient, type ResourceClient } from "../src/client/resource.js";
import { loadConfig } from "../src/config/index.js";
import { isNotFound } from "../src/http/errors.js";
import { Transport } from "../src/http/transport.js";
import type { KubeObject } from "../src/object/types.js";
import { isEstablished } from "../src/watchall/crds.js";
import { crdManifest } from "../test/support/crd-manifest.js";
import { uniqueName, waitFor } from "../test/support/wait.js";
import { ChildSession, runChild } from "./support/child.js";
import { benchCluster, finish } from "./support/cluster.js";
import { ensureGoProgram } from "./support/go-program.js";
import { describeMachine, machineLines } from "./support/machine.js";
import { monotonicMs, type NewKindTimes, newKindTimes, Timeline } from "./support/newkinds.js";
import { type Results, ratios, resultLine, table } from "./support/report.js";
import { connectionsTo, portOf } from "./support/sockets.js";
import { median, percentile, range } from "./support/stats.js";

const ours = "kindwatch";
/** kindwatch's engine with the transport on HTTP/1.1: reported beside kindwatch, with its own ratios to the peer. */
const http1 = "kindwatch-http1";
const peer = "client-go";
const allImpls = [ours, http1, peer] as const;
type Impl = (typeof allImpls)[number];
const childScript = fileURLToPath(new URL("./watchall-child.js", import.meta.url));
const crdsGvr = { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" };

function isImpl(name: string): name is Impl {
  return (allImpls as readonly string[]).includes(name);
}

/** A record with a fresh value for each implementation. */
function perImpl<T>(make: () => T): Record<Impl, T> {
  return { kindwatch: make(), "kindwatch-http1": make(), "client-go": make() };
}

/** The group of kind `i` of a set. */
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

/** A metric of the JSON line: its measurements per implementation, their summary and its format. */
interface Metric {
  readonly key: string;
  readonly series: (impl: Impl) => readonly number[];
  readonly value: (xs: readonly number[]) => number;
  /** Decimals, in the JSON line and the table. */
  readonly digits: number;
}

/** Decimals of milliseconds, bytes and seconds. */
const ms = 1;
const bytes = 0;
const seconds = 3;

function spread(xs: readonly number[], digits: number): string {
  const { min, max } = range(xs);
  return `${min.toFixed(digits)}..${max.toFixed(digits)}`;
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

/** One sync measurement's figures, per run. */
interface SyncSamples {
  readonly wall: number[];
  readonly cpu: number[];
  readonly server: number[];
  readonly rssMiB: number[];
  /** RSS once synced, after full collections. */
  readonly rss: number[];
  readonly connections: number[];
}

function numberField(sample: Record<string, unknown>, key: string, who: string): number {
  const value = sample[key];
  if (typeof value !== "number") throw new Error(`${who} printed ${JSON.stringify(sample)}, without ${key}`);
  return value;
}

/** Each kind's figures of `b` after those of `a`. */
function joined(a: NewKindTimes, b: NewKindTimes): NewKindTimes {
  return {
    synced: [...a.synced, ...b.synced],
    afterCreate: [...a.afterCreate, ...b.afterCreate],
    total: [...a.total, ...b.total],
    create: [...a.create, ...b.create],
  };
}

const noTimes = (): NewKindTimes => ({ synced: [], afterCreate: [], total: [], create: [] });

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
      impl: { type: "string", multiple: true, default: [...allImpls] },
      scale: { type: "boolean", default: false },
      "sync-only": { type: "boolean", default: false },
    },
  });
  const modes = [...new Set(values.list)];
  const syncOnly = values["sync-only"];
  const scale = values.scale;
  const kinds = Number(values.kinds);
  const objects = Number(values.objects);
  const newKinds = Number(values["new-kinds"]);
  const runs = Number(values.runs);
  const concurrency = Number(values.concurrency);
  for (const [name, n] of Object.entries({ kinds, objects, "new-kinds": newKinds, runs, concurrency })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${n}`);
  }
  if (kinds < 2) throw new Error("--kinds must be at least 2: memory is measured against one kind");
  const unknown = values.impl.filter((name) => !isImpl(name));
  if (unknown.length > 0) throw new Error(`--impl ${unknown.join(", ")}: expected ${allImpls.join(", ")}`);
  const impls = allImpls.filter((impl) => values.impl.includes(impl));
  const log = (line: string) => console.error(line);
  const goProgram = await ensureGoProgram(log);
  const cluster = await benchCluster(log);
  const config = loadConfig({ kubeconfig: cluster.kubeconfigPath });
  const serverPort = portOf(config.server);
  const transport = new Transport(config);
  const client = new DynamicClient(transport);
  const crds = client.resource(crdsGvr);
  const namespaces = client.resource({ group: "", version: "v1", resource: "namespaces" });
  const prefix = uniqueName("wab");
  const groups = Array.from({ length: kinds }, (_, i) => groupOf(prefix, i));
  const namespace = uniqueName("bench-watchall");
  const made: string[] = [];
  // Timeouts grow with the kinds: at 1,000 a CRD takes the server far longer to set up than at 20.
  const memoryTimeoutMs = 180_000 + kinds * 300;
  const syncTimeoutMs = 300_000 + kinds * 300 + kinds * objects * 5;
  let output: string[];
  try {
    const machine = await describeMachine(transport);
    const loadAtStart = loadavg()[0] ?? 0;
    await namespaces.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });

    log(`creating ${kinds} CRDs`);
    let started = performance.now();
    let createdCrds = 0;
    await each(kinds, 8, async (i) => {
      const group = groupOf(prefix, i);
      await crds.create(crd(group));
      made.push(`gizmos.${group}`);
      if (++createdCrds % 100 === 0) log(`CRDs created: ${createdCrds}/${kinds}`);
    });
    await waitFor(
      `${kinds} CRDs to be Established`,
      async () => {
        const list = await crds.list();
        const mine = list.items.filter((c) => c.metadata.name?.includes(`.${prefix}-`) && isEstablished(c));
        return mine.length === kinds;
      },
      // Each poll lists every CRD: at a thousand, megabytes, so not four times a second.
      { timeoutMs: 120_000 + kinds * 500, intervalMs: Math.max(250, kinds) },
    );
    const crdSeconds = (performance.now() - started) / 1000;
    log(`setup: ${kinds} CRDs Established in ${crdSeconds.toFixed(1)} s`);

    /** The command line of an implementation's process in a mode; kindwatch's under node with `nodeArgs`. */
    const command = (impl: Impl, mode: string, args: readonly string[], nodeArgs: readonly string[] = []) => {
      const common = ["--mode", mode, "--kubeconfig", cluster.kubeconfigPath, ...args];
      if (impl === peer) return { file: goProgram, args: ["watchall", ...common] };
      const own = ["--concurrency", String(concurrency), ...(impl === http1 ? ["--http1"] : [])];
      return { file: process.execPath, args: [...nodeArgs, childScript, ...common, ...own] };
    };
    const sessionOf = (impl: Impl, mode: string, args: readonly string[], nodeArgs: readonly string[] = []) => {
      const c = command(impl, mode, args, nodeArgs);
      return new ChildSession(c.file, c.args);
    };
    /** bytes_per_kind, in a fresh process of the implementation; resolves with its JSON line. */
    const measureMemory = async (impl: Impl): Promise<Record<string, unknown>> => {
      const args = ["--groups", groups.join(",")];
      if (impl !== peer) {
        const [script, ...rest] = command(impl, "memory", args).args;
        return (await runChild(script as string, rest, memoryTimeoutMs, ["--expose-gc"])) as Record<string, unknown>;
      }
      const session = sessionOf(impl, "memory", args);
      try {
        const result = await session.next(memoryTimeoutMs);
        await session.end(10_000);
        return result;
      } finally {
        await session.stop();
      }
    };
    /** The order rotates from run to run, so that no implementation always goes first. */
    const inTurn = (run: number): Impl[] => impls.map((_, i) => impls[(i + run) % impls.length] as Impl);

    const memory = perImpl<number[]>(() => []);
    const heap = perImpl<number[]>(() => []);
    for (let run = 0; run < (syncOnly ? 0 : runs); run++) {
      for (const impl of inTurn(run)) {
        const sample = await measureMemory(impl);
        memory[impl].push(numberField(sample, "bytes_per_kind", impl));
        heap[impl].push(numberField(sample, "heap_per_kind", impl));
        log(
          `memory run ${run + 1}/${runs} ${impl}: ${Math.round(numberField(sample, "bytes_per_kind", impl))} bytes per kind`,
        );
      }
    }

    log(`creating ${kinds * objects} objects`);
    started = performance.now();
    await each(kinds * objects, 32, (n) => {
      const group = groupOf(prefix, n % kinds);
      const gizmos = client.resource({ group, version: "v1", resource: "gizmos" }).namespace(namespace);
      return gizmos.create(gizmo(group, `gizmo-${Math.floor(n / kinds)}`, n));
    });
    const objectSeconds = (performance.now() - started) / 1000;
    log(`setup: ${kinds * objects} objects created in ${objectSeconds.toFixed(1)} s`);

    const newKindsRun = (count: number): NewKindsRun => ({
      client,
      prefix: uniqueName("wabn"),
      count,
      namespace,
      made,
      log,
      readyTimeoutMs: 60_000 + kinds * 100,
    });
    const newKind = perImpl(noTimes);
    /**
     * One sync in a fresh process: its figures once synced, the connections it then holds, and with --scale the new
     * kinds made while it still watches every kind it synced.
     */
    const measureSync = async (impl: Impl, list: string, withNewKinds: boolean) => {
      const run = newKindsRun(newKinds);
      const fresh = withNewKinds ? Array.from({ length: newKinds }, (_, i) => groupOf(run.prefix, i)) : [];
      const args = ["--groups", groups.join(","), "--objects", String(objects)];
      if (fresh.length > 0) args.push("--new-groups", fresh.join(","));
      if (impl === ours) args.push("--list", list);
      const session = sessionOf(impl, "sync", args, ["--expose-gc"]);
      try {
        const sample = await session.next(syncTimeoutMs);
        const connections = await connectionsTo(session.pid, serverPort);
        if (fresh.length > 0) {
          session.send("newkinds");
          const times = await driveNewKinds(run, [{ impl, session, groups: fresh }]);
          newKind[impl] = joined(newKind[impl], times[impl] ?? noTimes());
        } else {
          session.send("done");
        }
        await session.end(30_000);
        return { sample, connections };
      } finally {
        await session.stop();
      }
    };

    // kindwatch once per list mode, kindwatch-http1 and client-go (which has its own way to list) once.
    const syncs = impls.flatMap((impl) => (impl === ours ? modes : ["default"]).map((list) => ({ impl, list })));
    const sync = perImpl(() => new Map<string, SyncSamples>());
    for (const { impl, list } of syncs) {
      sync[impl].set(list, { wall: [], cpu: [], server: [], rssMiB: [], rss: [], connections: [] });
    }
    for (let run = 0; run < runs; run++) {
      for (let i = 0; i < syncs.length; i++) {
        // Interleaved, the first of each run rotating: a drift of the machine's load falls on every one alike.
        const { impl, list } = syncs[(run + i) % syncs.length] as (typeof syncs)[number];
        const who = impl === ours ? `${impl} (list: ${list})` : impl;
        const serverBefore = await serverCpuSeconds(transport);
        // With --scale, new kinds come in kindwatch's first list mode's process, and in each other implementation's.
        const withNewKinds = scale && !syncOnly && (impl !== ours || list === modes[0]);
        const { sample, connections } = await measureSync(impl, list, withNewKinds);
        const server = (await serverCpuSeconds(transport)) - serverBefore;
        const events = numberField(sample, "events", who);
        if (events !== kinds * objects) throw new Error(`${who}: sync delivered ${events} objects`);
        const figures = {
          wall: numberField(sample, "sync_s", who),
          cpu: numberField(sample, "cpu_s", who),
          rssMiB: numberField(sample, "peak_rss_bytes", who) / 2 ** 20,
          rss: numberField(sample, "rss_bytes", who),
        };
        const samples = sync[impl].get(list);
        samples?.wall.push(figures.wall);
        samples?.cpu.push(figures.cpu);
        samples?.server.push(server);
        samples?.rssMiB.push(figures.rssMiB);
        samples?.rss.push(figures.rss);
        samples?.connections.push(connections);
        log(
          `sync run ${run + 1}/${runs} ${who}: ${figures.wall.toFixed(2)} s, CPU ${figures.cpu.toFixed(2)} s, ` +
            `API server CPU ${server.toFixed(2)} s, peak RSS ${Math.round(figures.rssMiB)} MiB, ` +
            `settled RSS ${Math.round(figures.rss / 2 ** 20)} MiB, ${connections} connections` +
            (withNewKinds ? `, ${newKinds} new kinds while watching ${kinds}` : ""),
        );
      }
    }

    if (!syncOnly && !scale) {
      log(`${newKinds} new kinds per implementation, one after another, in turn`);
      const times = await measureNewKinds(newKindsRun(newKinds), impls, (impl, fresh) =>
        sessionOf(impl, "newkinds", ["--groups", fresh.join(",")]),
      );
      for (const impl of impls) newKind[impl] = times[impl] ?? noTimes();
    }
    const measuredNewKinds = !syncOnly;

    // An event delivered before the parent heard its create answered left nothing to wait for: it costs 0 ms.
    const waited = (xs: readonly number[], q: number) => Math.max(0, percentile(xs, q));
    const p50 = (xs: readonly number[]) => percentile(xs, 50);
    // Per kind: a new one's start and an empty one's memory, measured unless --sync-only.
    const kindMetrics: Metric[] = [];
    if (measuredNewKinds) {
      kindMetrics.push(
        { key: "kind_synced_ms_p50", series: (i) => newKind[i].synced, value: (xs) => percentile(xs, 50), digits: ms },
        { key: "kind_synced_ms_p99", series: (i) => newKind[i].synced, value: (xs) => percentile(xs, 99), digits: ms },
        {
          key: "event_after_create_ms_p50",
          series: (i) => newKind[i].afterCreate,
          value: (xs) => waited(xs, 50),
          digits: ms,
        },
        {
          key: "event_after_create_ms_p99",
          series: (i) => newKind[i].afterCreate,
          value: (xs) => waited(xs, 99),
          digits: ms,
        },
        { key: "bytes_per_kind", series: (i) => memory[i], value: median, digits: bytes },
      );
    }
    /** A sync's figures, none where the implementation did not run that list mode (client-go has its own). */
    const syncOf = (impl: Impl, list: string, of: (s: SyncSamples) => readonly number[]) => {
      const samples = sync[impl].get(list);
      return samples ? of(samples) : [];
    };
    // The engine's default keeps the metric's usual name, which client-go's sync shares; another mode is named after it.
    const suffix = (list: string) => (list === "default" ? "" : `_${list}`);
    const syncLists = [...new Set(syncs.map((s) => s.list))];
    const syncMetrics = syncLists.map((list): Metric[] => [
      {
        key: `sync_${kinds}_kinds_s${suffix(list)}`,
        series: (i) => syncOf(i, list, (s) => s.wall),
        value: median,
        digits: seconds,
      },
      { key: `rss_bytes${suffix(list)}`, series: (i) => syncOf(i, list, (s) => s.rss), value: median, digits: bytes },
      {
        key: `connections${suffix(list)}`,
        series: (i) => syncOf(i, list, (s) => s.connections),
        value: median,
        digits: 0,
      },
    ]);
    const metrics = [...kindMetrics, ...syncMetrics.flat()];
    const results: Results = {};
    for (const impl of impls) {
      results[impl] = Object.fromEntries(
        metrics
          .filter((m) => m.series(impl).length > 0)
          .map((m) => [m.key, Number(m.value(m.series(impl)).toFixed(m.digits))]),
      );
    }
    // Ratio columns: kindwatch's and kindwatch-http1's, each over client-go's, where both ran.
    const compared = impls.includes(peer) ? impls.filter((impl) => impl !== peer) : [];
    const ratioOf = Object.fromEntries(compared.map((impl) => [impl, ratios(results, impl, [peer])]));
    const what: Record<string, string> = {
      kind_synced_ms_p50: `CRD seen Established -> KIND_SYNCED delivered / informer HasSynced${scale ? `, ${kinds} kinds watched` : ""}`,
      event_after_create_ms_p50: "create answered -> first event delivered (0 if the event came first)",
      bytes_per_kind: "per empty kind: kindwatch V8 heap + external, client-go RSS",
    };
    for (const list of syncLists) {
      const s = suffix(list);
      what[`sync_${kinds}_kinds_s${s}`] =
        `start -> ${kinds} kinds synced, ${kinds * objects} objects delivered` +
        (modes.includes(list) ? ` (kindwatch lists: ${list})` : " (not kindwatch's: --list has no default)");
      what[`rss_bytes${s}`] = "RSS once synced, after gc() / runtime.GC()";
      what[`connections${s}`] = `TCP sockets held to the API server's port (${serverPort}) once synced`;
    }
    /** An implementation's two cells: the summary and min..max, blank where it has no figures. */
    const cells = (xs: readonly number[], value: (xs: readonly number[]) => number, digits: number) =>
      xs.length === 0 ? ["", ""] : [value(xs).toFixed(digits), spread(xs, digits)];
    const row = (m: Metric) => [
      m.key,
      ...impls.flatMap((impl) => cells(m.series(impl), m.value, m.digits)),
      ...compared.map((impl) => {
        const r = ratioOf[impl]?.[`${m.key}/${peer}`];
        return r === undefined ? "" : `${r.toFixed(2)}x`;
      }),
      what[m.key] ?? "",
    ];
    /** Rows for the table only: where the rest of the time goes, the heap alone, the costs of a sync. */
    const context = (
      name: string,
      of: (impl: Impl) => readonly number[],
      value: (xs: readonly number[]) => number,
      digits: number,
      about: string,
    ) => [`(${name})`, ...impls.flatMap((impl) => cells(of(impl), value, digits)), ...compared.map(() => ""), about];
    const rows = kindMetrics.map(row);
    for (const [i, list] of syncLists.entries()) {
      const s = suffix(list);
      rows.push(
        ...(syncMetrics[i] ?? []).map(row),
        context(`CPU s${s}`, (impl) => syncOf(impl, list, (x) => x.cpu), median, 2, "the process's, user + system"),
        context(
          `API server CPU s${s}`,
          (impl) => syncOf(impl, list, (x) => x.server),
          median,
          2,
          "its process_cpu_seconds_total over the sync",
        ),
        context(`peak RSS MiB${s}`, (impl) => syncOf(impl, list, (x) => x.rssMiB), median, 0, "the process's"),
      );
    }
    if (measuredNewKinds) {
      rows.push(
        context(
          "new_kind_ms_p50",
          (impl) => newKind[impl].total,
          p50,
          ms,
          "Established -> first event, the server's hold on the first create included",
        ),
        context(
          "create_ms_p50",
          (impl) => newKind[impl].create,
          p50,
          ms,
          "Established -> the create answered: the server's",
        ),
        context("heap_per_kind", (impl) => heap[impl], median, bytes, "per empty kind: V8 heap used / Go HeapAlloc"),
      );
    }
    const perImplKinds = scale ? runs * newKinds : newKinds;
    const rank = Math.min(perImplKinds, Math.max(1, Math.ceil(0.99 * perImplKinds)));
    const newCrds = measuredNewKinds ? `; ${impls.length * perImplKinds} new CRDs one at a time` : "";
    const head = [
      "metric",
      ...impls.flatMap((impl) => [impl, "min..max"]),
      ...compared.map((impl) => (impl === ours ? `${ours}/${peer}` : `http1/${peer}`)),
      "what",
    ];
    output = [
      `watchall: ${kinds} kinds × ${objects} objects, ${syncOnly ? "sync only" : `${newKinds} new kinds per implementation${scale ? " and run, while the kinds are watched (--scale)" : ""}`}; kindwatch engine concurrency ${concurrency}`,
      ...machineLines(machine),
      `load:       1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end`,
      `setup:      ${kinds} CRDs Established in ${crdSeconds.toFixed(1)} s; ${kinds * objects} objects in ${objectSeconds.toFixed(1)} s${newCrds}`,
      "subjects:   kindwatch: WatchAll, include: the groups, defaults (access reviews, streaming lists, listing slots,",
      "            HTTP/2 when the server offers it); kindwatch-http1: the same on HTTP/1.1 (http2: false);",
      "            client-go: the same design (bench/client-go/watchall.go): a dynamic informer factory's informer on CRDs",
      "            starting a dynamic informer per Established CRD's preferred version, stopped when the CRD goes;",
      "            defaults (WatchListClient on), client-side rate limit lifted; no slots: every kind lists at once",
      ...(syncOnly
        ? [`method:     sync: medians of ${runs} runs, a fresh process per measurement, order rotating run to run.`]
        : [
            scale
              ? `method:     new kinds: in each sync process once synced, ${newKinds} CRDs made one after another while it watches`
              : `method:     new kinds: ${impls.length * newKinds} CRDs made one after another, kinds watched by each implementation in turn`,
            scale
              ? `            the ${kinds} kinds, an object created by the parent as soon as it sees each Established;`
              : "            (all running), an object created by the parent as soon as it sees each Established;",
            `            p99 by nearest rank (${rank} of ${perImplKinds}); min..max: of every kind. bytes_per_kind: kindwatch: V8 heap`,
            "            used + external memory; client-go: RSS (after runtime.GC and debug.FreeOSMemory).",
            `            bytes_per_kind and sync: medians of ${runs} runs, a fresh process per measurement, order rotating.`,
          ]),
      `            sync: kindwatch's informers list ${modes.join(", ")} (--list), the others their own default way; API server`,
      "            CPU: its process_cpu_seconds_total, which counts everyone's load on a shared cluster. rss_bytes and",
      "            connections: the sync's process once synced; sockets counted from /proc/PID/fd and /proc/PID/net/tcp{,6}",
      "",
      table([head, ...rows]),
      resultLine("watchall", results, ours, [peer], [http1]),
    ];
  } finally {
    await finish(cluster, transport, { crds: made, namespace });
  }
  console.log(output.join("\n"));
}

/** What {@link driveNewKinds} needs. */
interface NewKindsRun {
  readonly client: DynamicClient;
  /** The new groups are `groupOf(prefix, i)`. */
  readonly prefix: string;
  /** New kinds per implementation. */
  readonly count: number;
  readonly namespace: string;
  /** CRDs made, for the clean-up. */
  readonly made: string[];
  readonly log: (line: string) => void;
  /** How long a process may take to say it is ready for new kinds. */
  readonly readyTimeoutMs: number;
}

/** A process following new kinds: the implementation, its session and the groups it includes. */
interface Watcher {
  readonly impl: Impl;
  readonly session: ChildSession;
  readonly groups: readonly string[];
}

/**
 * Separate processes watching only new kinds, one per implementation, each including every n-th new group; the new
 * kinds are made in turn. `spawn` starts an implementation's process on its groups.
 */
async function measureNewKinds(
  run: NewKindsRun,
  impls: readonly Impl[],
  spawn: (impl: Impl, groups: readonly string[]) => ChildSession,
): Promise<Partial<Record<Impl, NewKindTimes>>> {
  const all = Array.from({ length: impls.length * run.count }, (_, i) => groupOf(run.prefix, i));
  const watchers: Watcher[] = [];
  try {
    for (const [n, impl] of impls.entries()) {
      const groups = all.filter((_, i) => i % impls.length === n);
      watchers.push({ impl, session: spawn(impl, groups), groups });
    }
    const times = await driveNewKinds(run, watchers);
    for (const { session } of watchers) await session.end(30_000);
    return times;
  } finally {
    for (const { session } of watchers) await session.stop();
  }
}

/**
 * Makes the new kinds of `watchers` one after another (their groups in turn), each process having said `ready`; for
 * each, creates an object the moment the parent's own CRD watch sees it Established, and waits for the implementation
 * that watches it to report it synced and its event delivered. Ends with "done" to every process, once each has
 * answered it.
 */
async function driveNewKinds(
  run: NewKindsRun,
  watchers: readonly Watcher[],
): Promise<Partial<Record<Impl, NewKindTimes>>> {
  const { client, namespace, made, log } = run;
  const plan: { group: string; watcher: Watcher }[] = [];
  const longest = Math.max(...watchers.map((w) => w.groups.length));
  for (let i = 0; i < longest; i++) {
    for (const watcher of watchers) {
      const group = watcher.groups[i];
      if (group !== undefined) plan.push({ group, watcher });
    }
  }
  const createdAt = new Map<string, number>();
  const created = new Set<string>();
  const failures: unknown[] = [];

  const observer = new Informer<KubeObject>(listWatchOf(client.resource(crdsGvr)));
  const wanted = new Set(plan.map((p) => p.group));
  const seen = (c: KubeObject) => {
    const group = (c.spec as { group?: string } | undefined)?.group ?? "";
    if (!wanted.has(group) || created.has(group) || !isEstablished(c)) return;
    created.add(group);
    const gizmos = client.resource({ group, version: "v1", resource: "gizmos" }).namespace(namespace);
    createSoon(gizmos, gizmo(group, "first", 0)).then(
      () => createdAt.set(group, monotonicMs()),
      (err: unknown) => failures.push(err),
    );
  };
  observer.addHandlers({ add: seen, update: (_old, c) => seen(c) });
  observer.start();
  const timelines = new Map<Watcher, Timeline>(watchers.map((w) => [w, new Timeline()]));
  const readers: Promise<void>[] = [];
  try {
    await observer.synced();
    for (const watcher of watchers) {
      const ready = await watcher.session.next(run.readyTimeoutMs);
      if (ready.ready !== true) throw new Error(`${watcher.impl} printed ${JSON.stringify(ready)} before it was ready`);
      const timeline = timelines.get(watcher) as Timeline;
      // Reports come whenever the implementation has something to say: read them as they come, until "done".
      readers.push(
        (async () => {
          for (;;) {
            const line = await watcher.session.next(3_600_000);
            if (line.done === true) return;
            if (!timeline.take(line)) throw new Error(`${watcher.impl} printed ${JSON.stringify(line)}`);
          }
        })().catch((err: unknown) => {
          failures.push(err);
        }),
      );
    }
    for (const [i, { group, watcher }] of plan.entries()) {
      const timeline = timelines.get(watcher) as Timeline;
      await client.resource(crdsGvr).create(crd(group));
      made.push(`gizmos.${group}`);
      await waitFor(
        `the first event of ${group} (${watcher.impl})`,
        () => {
          if (failures.length > 0) throw failures[0];
          return timeline.event.has(group) && timeline.synced.has(group) && createdAt.has(group);
        },
        { timeoutMs: 120_000, intervalMs: 5 },
      );
      if ((i + 1) % 10 === 0) log(`new kinds: ${i + 1}/${plan.length}`);
    }
    for (const { session } of watchers) session.send("done");
    await Promise.all(readers);
    if (failures.length > 0) throw failures[0];
  } finally {
    await observer.stop();
  }
  const out: Partial<Record<Impl, NewKindTimes>> = {};
  for (const watcher of watchers) {
    out[watcher.impl] = newKindTimes(watcher.groups, timelines.get(watcher) as Timeline, createdAt);
  }
  return out;
}
