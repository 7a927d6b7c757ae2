/**
 * The watch-all benchmark: kindwatch's engine (`WatchAll`) against the same design written with client-go (the Go
 * program's `watchall`: a dynamic informer factory whose informer on CustomResourceDefinitions starts a dynamic
 * informer for each Established CRD's preferred version and stops it when the CRD goes), on the same server.
 *
 *   kind_synced_ms_p50, _p99: a new kind, from its CRD seen Established to the kind synced (kindwatch: KIND_SYNCED
 *     delivered; client-go: the kind's informer HasSynced), over N new CRDs per implementation made one after another.
 *   event_after_create_ms_p50, _p99: the server answered the create of an object of a new kind -> its event delivered.
 *     The time between the two (Established -> create answered) is the server's: it holds a new kind's first create
 *     for about 2 s, and is shown in the table only.
 *   bytes_per_kind: memory with every kind watched minus with one, per added (empty) kind, after full collections;
 *     kindwatch: V8 heap + external memory; client-go: the process's RSS (Go heap, goroutine stacks, buffers).
 *   sync_K_kinds_s: from start to every kind synced and every object delivered, K CRDs of M objects each; with each
 *     process's CPU and peak RSS and the API server's CPU (its process_cpu_seconds_total) in that time. With --list
 *     MODE, kindwatch's informers list that way (sync_K_kinds_s_MODE); given more than once, each run measures every
 *     mode and client-go, in an order that rotates from run to run. --sync-only skips memory and new kinds.
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
import { median, percentile, range } from "./support/stats.js";

const ours = "kindwatch";
const peer = "client-go";
const impls = [ours, peer] as const;
type Impl = (typeof impls)[number];
const childScript = fileURLToPath(new URL("./watchall-child.js", import.meta.url));
const crdsGvr = { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" };

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
}

function numberField(sample: Record<string, unknown>, key: string, who: string): number {
  const value = sample[key];
  if (typeof value !== "number") throw new Error(`${who} printed ${JSON.stringify(sample)}, without ${key}`);
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
  const goProgram = await ensureGoProgram(log);
  const cluster = await benchCluster(log);
  const transport = new Transport(loadConfig({ kubeconfig: cluster.kubeconfigPath }));
  const client = new DynamicClient(transport);
  const crds = client.resource(crdsGvr);
  const namespaces = client.resource({ group: "", version: "v1", resource: "namespaces" });
  const prefix = uniqueName("wab");
  const groups = Array.from({ length: kinds }, (_, i) => groupOf(prefix, i));
  const namespace = uniqueName("bench-watchall");
  const made: string[] = [];
  let output: string[];
  try {
    const machine = await describeMachine(transport);
    const loadAtStart = loadavg()[0] ?? 0;
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

    /** One measurement in a fresh process of the implementation; resolves with its last JSON line. */
    const measure = async (
      impl: Impl,
      mode: string,
      timeoutMs: number,
      list = "default",
    ): Promise<Record<string, unknown>> => {
      const args = ["--mode", mode, "--kubeconfig", cluster.kubeconfigPath, "--groups", groups.join(",")];
      const extra = mode === "sync" ? ["--objects", String(objects)] : [];
      if (impl === ours) {
        const node = mode === "memory" ? ["--expose-gc"] : [];
        const ownArgs = ["--concurrency", String(concurrency), "--list", list];
        const result = await runChild(childScript, [...args, ...extra, ...ownArgs], timeoutMs, node);
        return result as Record<string, unknown>;
      }
      const session = new ChildSession(goProgram, ["watchall", ...args, ...extra]);
      try {
        const result = await session.next(timeoutMs);
        await session.end(10_000);
        return result;
      } finally {
        await session.stop();
      }
    };
    /** The order alternates from run to run, so that neither implementation always goes first. */
    const inTurn = (run: number): Impl[] => (run % 2 === 0 ? [ours, peer] : [peer, ours]);

    const memory: Record<Impl, number[]> = { kindwatch: [], "client-go": [] };
    const heap: Record<Impl, number[]> = { kindwatch: [], "client-go": [] };
    for (let run = 0; run < (syncOnly ? 0 : runs); run++) {
      for (const impl of inTurn(run)) {
        const sample = await measure(impl, "memory", 180_000);
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

    // kindwatch once per list mode, client-go (which has its own way to list) once.
    const syncs = [...modes.map((list) => ({ impl: ours as Impl, list })), { impl: peer as Impl, list: "default" }];
    const sync: Record<Impl, Map<string, SyncSamples>> = { kindwatch: new Map(), "client-go": new Map() };
    for (const { impl, list } of syncs) sync[impl].set(list, { wall: [], cpu: [], server: [], rssMiB: [] });
    for (let run = 0; run < runs; run++) {
      for (let i = 0; i < syncs.length; i++) {
        // Interleaved, the first of each run rotating: a drift of the machine's load falls on every one alike.
        const { impl, list } = syncs[(run + i) % syncs.length] as (typeof syncs)[number];
        const who = impl === ours ? `${impl} (list: ${list})` : impl;
        const serverBefore = await serverCpuSeconds(transport);
        const sample = await measure(impl, "sync", 300_000, list);
        const server = (await serverCpuSeconds(transport)) - serverBefore;
        const events = numberField(sample, "events", who);
        if (events !== kinds * objects) throw new Error(`${who}: sync delivered ${events} objects`);
        const figures = {
          wall: numberField(sample, "sync_s", who),
          cpu: numberField(sample, "cpu_s", who),
          rssMiB: numberField(sample, "peak_rss_bytes", who) / 2 ** 20,
        };
        const samples = sync[impl].get(list);
        samples?.wall.push(figures.wall);
        samples?.cpu.push(figures.cpu);
        samples?.server.push(server);
        samples?.rssMiB.push(figures.rssMiB);
        log(
          `sync run ${run + 1}/${runs} ${who}: ${figures.wall.toFixed(2)} s, CPU ${figures.cpu.toFixed(2)} s, ` +
            `API server CPU ${server.toFixed(2)} s, peak RSS ${Math.round(figures.rssMiB)} MiB`,
        );
      }
    }

    let newKind: Record<Impl, NewKindTimes> | undefined;
    if (!syncOnly) {
      log(`${newKinds} new kinds per implementation, one after another, alternating`);
      newKind = await measureNewKinds({
        client,
        goProgram,
        kubeconfig: cluster.kubeconfigPath,
        prefix: uniqueName("wabn"),
        count: newKinds,
        concurrency,
        namespace,
        made,
        log,
      });
    }

    // An event delivered before the parent heard its create answered left nothing to wait for: it costs 0 ms.
    const waited = (xs: readonly number[], q: number) => Math.max(0, percentile(xs, q));
    const p50 = (xs: readonly number[]) => percentile(xs, 50);
    // Per kind: a new one's start and an empty one's memory, measured unless --sync-only.
    const kindMetrics: Metric[] = [];
    if (newKind) {
      const times = newKind;
      kindMetrics.push(
        { key: "kind_synced_ms_p50", series: (i) => times[i].synced, value: (xs) => percentile(xs, 50), digits: ms },
        { key: "kind_synced_ms_p99", series: (i) => times[i].synced, value: (xs) => percentile(xs, 99), digits: ms },
        {
          key: "event_after_create_ms_p50",
          series: (i) => times[i].afterCreate,
          value: (xs) => waited(xs, 50),
          digits: ms,
        },
        {
          key: "event_after_create_ms_p99",
          series: (i) => times[i].afterCreate,
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
    const syncMetrics = syncLists.map(
      (list): Metric => ({
        key: `sync_${kinds}_kinds_s${suffix(list)}`,
        series: (i) => syncOf(i, list, (s) => s.wall),
        value: median,
        digits: seconds,
      }),
    );
    const metrics = [...kindMetrics, ...syncMetrics];
    const results: Results = {};
    for (const impl of impls) {
      results[impl] = Object.fromEntries(
        metrics
          .filter((m) => m.series(impl).length > 0)
          .map((m) => [m.key, Number(m.value(m.series(impl)).toFixed(m.digits))]),
      );
    }
    const ratio = ratios(results, ours, [peer]);
    const what: Record<string, string> = {
      kind_synced_ms_p50: "CRD seen Established -> KIND_SYNCED delivered / informer HasSynced",
      event_after_create_ms_p50: "create answered -> first event delivered (0 if the event came first)",
      bytes_per_kind: "per empty kind: kindwatch V8 heap + external, client-go RSS",
    };
    for (const list of syncLists) {
      what[`sync_${kinds}_kinds_s${suffix(list)}`] =
        `start -> ${kinds} kinds synced, ${kinds * objects} objects delivered` +
        (modes.includes(list) ? ` (kindwatch lists: ${list})` : " (client-go only: --list has no default)");
    }
    /** An implementation's two cells: the summary and min..max, blank where it has no figures. */
    const cells = (xs: readonly number[], value: (xs: readonly number[]) => number, digits: number) =>
      xs.length === 0 ? ["", ""] : [value(xs).toFixed(digits), spread(xs, digits)];
    const row = (m: Metric) => {
      const r = ratio[`${m.key}/${peer}`];
      return [
        m.key,
        ...impls.flatMap((impl) => cells(m.series(impl), m.value, m.digits)),
        r === undefined ? "" : `${r.toFixed(2)}x`,
        what[m.key] ?? "",
      ];
    };
    /** Rows for the table only: where the rest of the time goes, the heap alone, the costs of a sync. */
    const context = (
      name: string,
      of: (impl: Impl) => readonly number[],
      value: (xs: readonly number[]) => number,
      digits: number,
      about: string,
    ) => [`(${name})`, ...impls.flatMap((impl) => cells(of(impl), value, digits)), "", about];
    const rows = kindMetrics.map(row);
    for (const [i, list] of syncLists.entries()) {
      const s = suffix(list);
      rows.push(
        row(syncMetrics[i] as Metric),
        context(`CPU s${s}`, (impl) => syncOf(impl, list, (x) => x.cpu), median, 2, "the process's, user + system"),
        context(
          `API server CPU s${s}`,
          (impl) => syncOf(impl, list, (x) => x.server),
          median,
          2,
          "its process_cpu_seconds_total over the run",
        ),
        context(`peak RSS MiB${s}`, (impl) => syncOf(impl, list, (x) => x.rssMiB), median, 0, "the process's"),
      );
    }
    if (newKind) {
      const times = newKind;
      rows.push(
        context(
          "new_kind_ms_p50",
          (impl) => times[impl].total,
          p50,
          ms,
          "Established -> first event, the server's hold on the first create included",
        ),
        context(
          "create_ms_p50",
          (impl) => times[impl].create,
          p50,
          ms,
          "Established -> the create answered: the server's",
        ),
        context("heap_per_kind", (impl) => heap[impl], median, bytes, "per empty kind: V8 heap used / Go HeapAlloc"),
      );
    }
    const rank = Math.min(newKinds, Math.max(1, Math.ceil(0.99 * newKinds)));
    output = [
      `watchall: ${kinds} kinds × ${objects} objects, ${syncOnly ? "sync only" : `${newKinds} new kinds per implementation`}; kindwatch engine concurrency ${concurrency}`,
      ...machineLines(machine),
      `load:       1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end`,
      `setup:      ${kinds} CRDs Established in ${crdSeconds.toFixed(1)} s; ${kinds * objects} objects in ${objectSeconds.toFixed(1)} s`,
      "subjects:   kindwatch: WatchAll, include: the groups, defaults (access reviews, streaming lists, listing slots);",
      "            client-go: the same design (bench/client-go/watchall.go): a dynamic informer factory's informer on CRDs",
      "            starting a dynamic informer per Established CRD's preferred version, stopped when the CRD goes;",
      "            defaults (WatchListClient on), client-side rate limit lifted; no slots: every kind lists at once",
      ...(syncOnly
        ? [`method:     sync: medians of ${runs} runs, a fresh process per measurement, order rotating run to run.`]
        : [
            `method:     new kinds: ${2 * newKinds} CRDs made one after another, kinds alternately watched by one implementation`,
            "            and the other (both running), an object created by the parent as soon as it sees each Established;",
            `            p99 by nearest rank (${rank} of ${newKinds}); min..max: of every kind. bytes_per_kind: kindwatch: V8 heap`,
            "            used + external memory; client-go: RSS (after runtime.GC and debug.FreeOSMemory).",
            `            bytes_per_kind and sync: medians of ${runs} runs, a fresh process per measurement, order rotating.`,
          ]),
      `            sync: kindwatch's informers list ${modes.join(", ")} (--list), client-go its own default way; API server`,
      "            CPU: its process_cpu_seconds_total, which counts everyone's load on a shared cluster",
      "",
      table([["metric", "kindwatch", "min..max", "client-go", "min..max", "ratio", "what"], ...rows]),
      resultLine("watchall", results, ours, [peer]),
    ];
  } finally {
    await finish(cluster, transport, { crds: made, namespace });
  }
  console.log(output.join("\n"));
}

/** What {@link measureNewKinds} needs. */
interface NewKindsRun {
  readonly client: DynamicClient;
  readonly goProgram: string;
  readonly kubeconfig: string;
  readonly prefix: string;
  /** New kinds per implementation. */
  readonly count: number;
  readonly concurrency: number;
  readonly namespace: string;
  /** CRDs made, for the clean-up. */
  readonly made: string[];
  readonly log: (line: string) => void;
}

/**
 * Makes 2 × `count` CRDs one after another while both implementations run, each including every other one's group;
 * for each, creates an object the moment the parent's own CRD watch sees it Established, and waits for the
 * implementation that watches it to deliver its event.
 */
async function measureNewKinds(run: NewKindsRun): Promise<Record<Impl, NewKindTimes>> {
  const { client, count, namespace, made, log } = run;
  const all = Array.from({ length: 2 * count }, (_, i) => groupOf(run.prefix, i));
  const owner = (i: number): Impl => impls[i % 2] as Impl;
  const groupsOf = (impl: Impl) => all.filter((_, i) => owner(i) === impl);
  const createdAt = new Map<string, number>();
  const created = new Set<string>();
  const failures: unknown[] = [];

  const observer = new Informer<KubeObject>(listWatchOf(client.resource(crdsGvr)));
  const wanted = new Set(all);
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
  await observer.synced();

  const timelines: Record<Impl, Timeline> = { kindwatch: new Timeline(), "client-go": new Timeline() };
  const sessions = new Map<Impl, ChildSession>();
  const readers: Promise<void>[] = [];
  try {
    for (const impl of impls) {
      const args = ["--mode", "newkinds", "--kubeconfig", run.kubeconfig, "--groups", groupsOf(impl).join(",")];
      const session =
        impl === ours
          ? new ChildSession(process.execPath, [childScript, ...args, "--concurrency", String(run.concurrency)])
          : new ChildSession(run.goProgram, ["watchall", ...args]);
      sessions.set(impl, session);
      const ready = await session.next(60_000);
      if (ready.ready !== true) throw new Error(`${impl} printed ${JSON.stringify(ready)} before it was ready`);
      // Reports come whenever the implementation has something to say: read them as they come, until "done".
      readers.push(
        (async () => {
          for (;;) {
            const line = await session.next(3_600_000);
            if (line.done === true) return;
            if (!timelines[impl].take(line)) throw new Error(`${impl} printed ${JSON.stringify(line)}`);
          }
        })().catch((err: unknown) => {
          failures.push(err);
        }),
      );
    }
    for (const [i, group] of all.entries()) {
      const timeline = timelines[owner(i)];
      await client.resource(crdsGvr).create(crd(group));
      made.push(`gizmos.${group}`);
      await waitFor(
        `the first event of ${group} (${owner(i)})`,
        () => {
          if (failures.length > 0) throw failures[0];
          return timeline.event.has(group) && timeline.synced.has(group) && createdAt.has(group);
        },
        { timeoutMs: 60_000, intervalMs: 5 },
      );
      if ((i + 1) % 10 === 0) log(`new kinds: ${i + 1}/${all.length}`);
    }
    for (const session of sessions.values()) session.send("done");
    await Promise.all(readers);
    if (failures.length > 0) throw failures[0];
    for (const session of sessions.values()) await session.end(30_000);
  } finally {
    for (const session of sessions.values()) await session.stop();
    await observer.stop();
  }
  return {
    kindwatch: newKindTimes(groupsOf(ours), timelines.kindwatch, createdAt),
    "client-go": newKindTimes(groupsOf(peer), timelines[peer], createdAt),
  };
}
