/**
 * The informer benchmark: N custom objects (default 100,000) spread over 10 CRDs, watched by an informer per CRD in
 * each implementation. Per run and implementation, a fresh child process measures how long its informers take to sync
 * (`sync_s`) and the CPU it spends doing so (`sync_cpu_s`), the memory each cached object costs once settled
 * (`bytes_per_object`), and, under a churn of merge patches made by another process as fast as the server takes
 * them, the CPU it spends per event (`us_per_event`). curl listing the same objects into /dev/null (`raw-list`) and
 * the objects' own JSON size (`json`) are the physical references. kindwatch runs twice: on the transport's default
 * (HTTP/2 when the server offers it) and on HTTP/1.1 (`kindwatch-http1`), whose ratios are the `variant_ratios`.
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DynamicClient, type ResourceClient } from "../src/client/resource.js";
import { loadConfig } from "../src/config/index.js";
import { Transport } from "../src/http/transport.js";
import { uniqueName, waitFor } from "../test/support/wait.js";
import { ChildSession } from "./support/child.js";
import { benchCluster, finish } from "./support/cluster.js";
import { Curl } from "./support/curl.js";
import { ensureGoProgram } from "./support/go-program.js";
import { describeMachine, machineLines } from "./support/machine.js";
import { crd, createAll, widget } from "./support/objects.js";
import { type Results, ratios, resultLine, table } from "./support/report.js";
import { median, range } from "./support/stats.js";
import { clientNodeVersion } from "./support/versions.js";

const ours = "kindwatch";
/** kindwatch-http1: the same informers with the transport on HTTP/1.1, a connection per watch. */
const http1 = "kindwatch-http1";
const informerImpls = [ours, http1, "kindwatch-metadata", "client-node", "client-go"] as const;
/** Who kindwatch (and, under variant_ratios, kindwatch-http1) is compared with; kindwatch-metadata is not compared. */
const peers = ["client-node", "client-go", "raw-list", "json"];
const kinds = 10;
const childScript = fileURLToPath(new URL("./informer-child.js", import.meta.url));
const goModFile = fileURLToPath(new URL("../../bench/client-go/go.mod", import.meta.url));

/** What one informer child reports at the end of its run. */
interface Sample {
  readonly objects: number;
  readonly sync_s: number;
  readonly sync_cpu_s: number;
  readonly bytes_per_object: number;
  readonly events: number;
  readonly cpu_s: number;
  readonly us_per_event: number;
  /** Of us_per_event, the part spent in the kernel (system CPU); Node.js children only. */
  readonly sys_us_per_event?: number;
}

function isSample(value: unknown): value is Sample {
  const v = value as Record<string, unknown> | null;
  return ["objects", "sync_s", "sync_cpu_s", "bytes_per_object", "events", "cpu_s", "us_per_event"].every(
    (k) => typeof v?.[k] === "number",
  );
}

interface Churn {
  readonly patches: number;
  readonly seconds: number;
  readonly per_second: number;
}

function isChurn(value: unknown): value is Churn {
  const v = value as Partial<Churn> | null;
  return typeof v?.patches === "number" && typeof v.seconds === "number" && typeof v.per_second === "number";
}

function clientGoVersion(): string {
  return /k8s\.io\/client-go (\S+)/.exec(readFileSync(goModFile, "utf8"))?.[1] ?? "unknown";
}

function positiveIntegers<K extends string>(values: Record<K, string | undefined>): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const [name, raw] of Object.entries(values) as [K, string | undefined][]) {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${raw}`);
    out[name] = n;
  }
  return out;
}

/** Runs the informer benchmark; prints the table, then the JSON line. */
export async function informerBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      objects: { type: "string", default: "100000" },
      runs: { type: "string", default: "3" },
      churn: { type: "string", default: "5000" },
      concurrency: { type: "string", default: "64" },
      "churn-concurrency": { type: "string", default: "64" },
    },
  });
  const opts = positiveIntegers({
    objects: values.objects,
    runs: values.runs,
    churn: values.churn,
    concurrency: values.concurrency,
    "churn-concurrency": values["churn-concurrency"],
  });
  const count = opts.objects;
  if (count % kinds !== 0) throw new Error(`--objects must be a multiple of ${kinds} (the CRDs), not ${count}`);
  const log = (line: string) => console.error(line);
  const goProgram = await ensureGoProgram(log);
  const cluster = await benchCluster(log);
  const transport = new Transport(loadConfig({ kubeconfig: cluster.kubeconfigPath }));
  const client = new DynamicClient(transport);
  const base = uniqueName("bench");
  const groups = Array.from({ length: kinds }, (_, k) => `k${k}.${base}.kindwatch.dev`);
  const namespace = uniqueName("bench-informer");
  const crds = client.resource({ group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" });
  const namespaces = client.resource({ group: "", version: "v1", resource: "namespaces" });
  const curl = await Curl.fromKubeconfig(cluster.kubeconfigPath);
  let output: string[];
  try {
    const machine = await describeMachine(transport);
    const loadAtStart = loadavg()[0] ?? 0;
    await namespaces.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    for (const group of groups) await crds.create(crd(group));
    const widgets: ResourceClient[] = groups.map((group) =>
      client.resource({ group, version: "v1", resource: "widgets" }).namespace(namespace),
    );
    for (const w of widgets) {
      await waitFor("the CRDs to be served", async () => {
        await w.list({ limit: 1 });
        return true;
      });
    }

    log(`creating ${count} objects over ${kinds} CRDs in ${namespace}, ${opts.concurrency} at a time`);
    const createStarted = performance.now();
    await createAll(count, opts.concurrency, (j) => {
      const kind = j % kinds;
      return { client: widgets[kind] as ResourceClient, object: widget(groups[kind] as string, Math.floor(j / kinds)) };
    });
    const createSeconds = (performance.now() - createStarted) / 1000;
    log(`created in ${createSeconds.toFixed(1)} s`);

    const listPaths = groups.map((group) => `/apis/${group}/v1/widgets`);
    const listTimeoutMs = 60_000 + count;
    const syncTimeoutMs = 120_000 + count * 3;
    const churnTimeoutMs = 120_000 + opts.churn * 10;
    const common = ["--kubeconfig", cluster.kubeconfigPath, "--groups", groups.join(","), "--objects", String(count)];

    const churn = async (token: string): Promise<Churn> => {
      const session = new ChildSession(goProgram, [
        "churn",
        ...common,
        "--namespace",
        namespace,
        "--count",
        String(opts.churn),
        "--concurrency",
        String(opts["churn-concurrency"]),
        "--token",
        token,
      ]);
      try {
        const result = await session.next(churnTimeoutMs);
        if (!isChurn(result)) throw new Error(`the churn printed ${JSON.stringify(result)}`);
        await session.end(10_000);
        return result;
      } finally {
        await session.stop();
      }
    };

    const measure = async (impl: string, run: number): Promise<{ sample: Sample; churn: Churn }> => {
      const session =
        impl === "client-go"
          ? new ChildSession(goProgram, ["informer", ...common])
          : new ChildSession(process.execPath, ["--expose-gc", childScript, "--impl", impl, ...common]);
      try {
        const synced = await session.next(syncTimeoutMs);
        if (synced.objects !== count) throw new Error(`${impl} holds ${synced.objects} objects, not ${count}`);
        const made = await churn(`${run}-${impl}`);
        session.send(`done ${made.patches}`);
        const sample = await session.next(churnTimeoutMs);
        if (!isSample(sample)) throw new Error(`${impl}: the child printed ${JSON.stringify(sample)}, not a sample`);
        await session.end(10_000);
        return { sample, churn: made };
      } finally {
        await session.stop();
      }
    };

    // Every object has been listed once before anything is measured: the server's caches are as warm for the first
    // implementation as for the last.
    log("warm-up: one raw list");
    await curl.list(listPaths, listTimeoutMs);
    const samples: Record<string, Sample[]> = Object.fromEntries(informerImpls.map((impl) => [impl, []]));
    const raw: number[] = [];
    const churnRates: number[] = [];
    const served: number[] = [];
    for (let run = 0; run < opts.runs; run++) {
      const listed = await curl.list(listPaths, listTimeoutMs);
      raw.push(listed.seconds);
      served.push(listed.bytes);
      log(`run ${run + 1}/${opts.runs} raw-list: ${listed.seconds.toFixed(3)} s, ${listed.bytes} bytes`);
      // The order rotates from run to run, so that no implementation always goes first or after the same one.
      const order = informerImpls.map((_, i) => informerImpls[(i + run) % informerImpls.length] as string);
      for (const impl of order) {
        const { sample, churn: made } = await measure(impl, run);
        samples[impl]?.push(sample);
        churnRates.push(made.per_second);
        log(
          `run ${run + 1}/${opts.runs} ${impl}: synced in ${sample.sync_s.toFixed(3)} s, ` +
            `${Math.round(sample.bytes_per_object)} bytes/object, ${sample.events} events at ` +
            `${sample.us_per_event.toFixed(1)} µs CPU each` +
            (sample.sys_us_per_event === undefined ? "" : ` (${sample.sys_us_per_event.toFixed(1)} µs in the kernel)`) +
            ` (churn ${Math.round(made.per_second)} patches/s)`,
        );
      }
    }

    // Objects grow a little as churns add managedFields entries: the median run's size is the one to compare with.
    const bytesPerObject = median(served) / count;
    const labels: Record<string, string> = {
      "client-node": `client-node ${clientNodeVersion()}`,
      "client-go": `client-go ${clientGoVersion()}`,
    };
    const { results, rows } = summarize(samples, raw, bytesPerObject, labels);
    output = [
      `informer: ${count} custom objects over ${kinds} CRDs (~${Math.round(bytesPerObject)} bytes each as served), one namespace;` +
        ` churn of ${opts.churn} merge patches`,
      ...machineLines(machine),
      // Other processes on the machine move wall times (sync_s above all) far more than CPU times; say how busy it was.
      `load:       1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end`,
      `setup:      created in ${createSeconds.toFixed(1)} s (${Math.round(count / createSeconds)}/s, ${opts.concurrency} at a time through kindwatch);` +
        ` churn at a median ${Math.round(median(churnRates))} patches/s (${opts["churn-concurrency"]} in flight, client-go, another process)`,
      "subjects:   kindwatch: an Informer per CRD (listWatchOf(client.resource(gvr))), defaults (streaming list when the",
      "            server offers it, managedFields dropped, HTTP/2 when the server offers it); kindwatch-http1: the same",
      "            on HTTP/1.1 (http2: false, a connection per watch); kindwatch-metadata: the same with metadataOnly;",
      `            client-node ${clientNodeVersion()}: makeInformer over CustomObjectsApi.listClusterCustomObject (one unpaginated list);`,
      `            client-go ${clientGoVersion()}: one dynamicinformer factory, an informer per GVR, defaults (WatchListClient on),`,
      "            client-side rate limit lifted; raw-list: curl, the 10 unpaginated lists in parallel into /dev/null;",
      "            json: bytes served per object. Every informer's handlers count add, update and delete events.",
      `method:     median of ${opts.runs} runs after a warm-up list; each run a fresh process per implementation, order rotating.`,
      "            sync_s: from starting the informers until all say synced and the handlers have had every object;",
      "            bytes_per_object: live heap after a full GC (Node: V8 heap used + external; Go: HeapAlloc) minus the",
      "            same process's before the informers started, over N; us_per_event: the informer process's user+system",
      "            CPU from sync until its handlers have seen the churn's events, over the events they saw;",
      "            sync_cpu_s: the informer process's user+system CPU while syncing (the time of sync_s)",
      "",
      table(rows),
      resultLine("informer", results, ours, peers, [http1]),
    ];
  } finally {
    await curl.close();
    await finish(cluster, transport, { crds: groups.map((group) => `widgets.${group}`), namespace });
  }
  console.log(output.join("\n"));
}

/** The metrics of the JSON line, with their table format. */
const metrics: readonly {
  key: "sync_s" | "sync_cpu_s" | "bytes_per_object" | "us_per_event";
  show: (v: number) => string;
}[] = [
  { key: "sync_s", show: (v) => v.toFixed(3) },
  { key: "sync_cpu_s", show: (v) => v.toFixed(2) },
  { key: "bytes_per_object", show: (v) => String(Math.round(v)) },
  { key: "us_per_event", show: (v) => v.toFixed(1) },
];

/**
 * Medians for the JSON line; for the table, a row per implementation (median and min..max of each metric, and the
 * median of the events it saw) and a row of ratios per peer, for kindwatch and for kindwatch-http1.
 */
function summarize(
  samples: Record<string, Sample[]>,
  raw: readonly number[],
  jsonBytes: number,
  labels: Record<string, string>,
) {
  const results: Results = {};
  const head = ["implementation", ...metrics.flatMap((m) => [m.key, "min..max"]), "events"];
  const rows: string[][] = [head];
  const blank = (cells: string[]) => [...cells, ...Array<string>(head.length - cells.length).fill("")];
  const cells = (values: readonly number[], show: (v: number) => string) => {
    const { min, max } = range(values);
    return [show(median(values)), `${show(min)}..${show(max)}`];
  };
  for (const [impl, runs] of Object.entries(samples)) {
    const of = (key: Exclude<keyof Sample, "sys_us_per_event">) => runs.map((s) => s[key]);
    results[impl] = Object.fromEntries(metrics.map((m) => [m.key, Number(median(of(m.key)).toFixed(4))]));
    rows.push([
      labels[impl] ?? impl,
      ...metrics.flatMap((m) => cells(of(m.key), m.show)),
      String(median(of("events"))),
    ]);
  }
  results["raw-list"] = { sync_s: Number(median(raw).toFixed(4)) };
  rows.push(blank(["raw-list (curl)", ...cells(raw, (v) => v.toFixed(3))]));
  results.json = { bytes_per_object: Math.round(jsonBytes) };
  rows.push(blank(["json (as served)", "", "", String(Math.round(jsonBytes))]));
  for (const who of [ours, http1]) {
    const ratio = ratios(results, who, peers);
    for (const peer of peers) {
      const shown = metrics.flatMap((m) => {
        const r = ratio[`${m.key}/${peer}`];
        return [r === undefined ? "" : `${r.toFixed(2)}x`, ""];
      });
      rows.push(blank([`${who} / ${peer}`, ...shown]));
    }
  }
  return { results, rows };
}
