/**
 * The export benchmark: `kindwatch export` as a process, to each sink in turn (a file, the HTTP test receiver in batched
 * mode, a real nats-server's JetStream, kfake's Kafka), over one CRD of `--objects` widgets (~1 KiB each).
 *
 *   events_per_s: a fresh exporter (no checkpoint) over the backlog, object events over the time from the receiver's
 *     first event to its last (process start, discovery and the first list are left out; `start_to_all_s` has them).
 *   lag_ms_p50 / lag_ms_p99: the same exporter, caught up, while widgets are patched at `--rate` a second for
 *     `--seconds`: the exporter's own `kindwatch_export_lag_seconds` histogram (receipt of a change to the sink's
 *     acknowledgement), its counts over that phase only, interpolated within buckets (0.005, 0.01, 0.025, 0.05, 0.1 s...).
 * Reported, never asserted; `--runs` runs per sink (median and range).
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { DynamicClient } from "../src/client/resource.js";
import { loadConfig } from "../src/config/index.js";
import { Transport } from "../src/http/transport.js";
import type { KubeObject } from "../src/object/types.js";
import { CeReceiver } from "../test/support/ce-receiver.js";
import { CliProcess } from "../test/support/cli.js";
import { startKafka } from "../test/support/kafka.js";
import { startNats } from "../test/support/nats.js";
import { processTempDir } from "../test/support/tempdir.js";
import { uniqueName, waitFor } from "../test/support/wait.js";
import { benchCluster, finish } from "./support/cluster.js";
import { describeMachine, machineLines } from "./support/machine.js";
import { crd, createAll, widget, widgetName } from "./support/objects.js";
import { type Results, resultLine, table } from "./support/report.js";
import { median, range } from "./support/stats.js";

/** A histogram's cumulative bucket counts by upper bound (seconds), from Prometheus text. */
function lagBuckets(metrics: string): Map<number, number> {
  const out = new Map<number, number>();
  // Label values may hold braces (a NATS subject template), so the line is split at its last `} `.
  for (const m of metrics.matchAll(/^kindwatch_export_lag_seconds_bucket\{(.*)\} (\d+)$/gm)) {
    const le = /(?:^|,)le="([^"]+)"/.exec(m[1] ?? "")?.[1];
    if (le !== undefined) out.set(le === "+Inf" ? Number.POSITIVE_INFINITY : Number(le), Number(m[2]));
  }
  return out;
}

/** The `q` quantile of the observations between two scrapes, in ms, linear within its bucket. */
function quantileMs(before: Map<number, number>, after: Map<number, number>, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [i, bound] of bounds.entries()) {
    const count = counts[i] ?? 0;
    if (count >= rank) {
      const upper = Number.isFinite(bound) ? bound : lower * 2;
      return 1000 * (lower + ((rank - below) / Math.max(1, count - below)) * (upper - lower));
    }
    lower = bound;
    below = count;
  }
  return Number.NaN;
}

interface SinkUnderBench {
  readonly name: string;
  /** `--sink` and options for run `run`. */
  args(run: number): string[];
  /** Events at the receiver of run `run`. */
  count(run: number): Promise<number>;
}

export async function exportSinksBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      objects: { type: "string", default: "5000" },
      runs: { type: "string", default: "1" },
      rate: { type: "string", default: "100" },
      seconds: { type: "string", default: "20" },
      sink: { type: "string", multiple: true },
    },
  });
  const objects = Number(values.objects);
  const runs = Number(values.runs);
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const log = (line: string) => console.error(line);
  const cluster = await benchCluster(log);
  const transport = new Transport(loadConfig({ kubeconfig: cluster.kubeconfigPath }));
  const client = new DynamicClient(transport);
  const group = `${uniqueName("bench")}.kindwatch.dev`;
  const namespace = uniqueName("bench-export");
  const dir = processTempDir("bench-export");
  const receiver = await CeReceiver.start();
  const nats = await startNats();
  const topics = Array.from({ length: runs }, (_, r) => `bench-${r}`);
  const kafka = await startKafka({ topics });
  const streams = Array.from({ length: runs }, () => uniqueName("bench").toUpperCase().replace(/-/g, "_"));
  const httpBase: number[] = [];
  const file = (run: number) => join(dir, `events-${run}.ndjson`);
  const { readFile } = await import("node:fs/promises");
  const all: SinkUnderBench[] = [
    {
      name: "file",
      args: (run) => ["--sink", `file://${file(run)}`],
      count: async (run) => (await readFile(file(run), "utf8").catch(() => "")).split("\n").length - 1,
    },
    {
      name: "http",
      args: (run) => {
        httpBase[run] = receiver.arrivals.length;
        return ["--sink", receiver.url, "--sink-option", "mode=batch"];
      },
      count: async (run) => receiver.arrivals.length - (httpBase[run] ?? 0),
    },
    {
      name: "nats",
      // Streams may not share subjects: each run's stream has its own.
      args: (run) => [
        "--sink",
        `nats://127.0.0.1:${nats.port}?stream=${streams[run]}&create-stream=true&subject=run${run}.{resource}`,
      ],
      count: async (run) =>
        (await nats.jsm.streams.info(streams[run] ?? "").catch(() => undefined))?.state.messages ?? 0,
    },
    {
      name: "kafka",
      args: (run) => ["--sink", `kafka://${kafka.brokers[0]}/${topics[run]}`],
      count: (run) => kafka.acknowledged(topics[run] ?? ""),
    },
  ];
  const sinks = all.filter((s) => !values.sink || values.sink.includes(s.name));
  const results: Results = {};
  /** Every patch changes its widget: a patch to the value it has is no change, and no event. */
  let patched = 0;
  const rows: string[][] = [["sink", "events/s", "range", "start→all s", "lag p50 ms", "lag p99 ms", "delivered"]];
  try {
    const machine = await describeMachine(transport);
    await client
      .resource({ group: "", version: "v1", resource: "namespaces" })
      .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    const crdPath = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`;
    await transport.json({
      method: "POST",
      path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      body: crd(group),
    });
    await waitFor("the CRD to be Established", async () => {
      const c = (await transport.json({ path: crdPath })) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      return c.status?.conditions?.some((x) => x.type === "Established" && x.status === "True");
    });
    const widgets = client.resource({ group, version: "v1", resource: "widgets" }).namespace(namespace);
    log(`creating ${objects} widgets`);
    await createAll(objects, 16, (i) => ({ client: widgets, object: widget(group, i) as KubeObject }));
    for (const sink of sinks) {
      const rates: number[] = [];
      const starts: number[] = [];
      const p50s: number[] = [];
      const p99s: number[] = [];
      let delivered = 0;
      for (let run = 0; run < runs; run++) {
        const started = performance.now();
        const p = new CliProcess(
          [
            "export",
            ...sink.args(run),
            ...["--checkpoint", join(dir, `${sink.name}-${run}.checkpoint.json`), "--kinds", `widgets.${group}`],
            ...["--metrics-listen", "127.0.0.1:0"],
          ],
          { kubeconfig: cluster.kubeconfigPath, timeoutMs: 900_000 },
        );
        try {
          const port = await p.until("the metrics address", (c) => {
            const m = /metrics on http:\/\/[^:]+:(\d+)/.exec(c.stderr);
            return m ? { port: Number(m[1]) } : undefined;
          });
          const first = await waitFor(
            `${sink.name}: a first event`,
            async () => ((await sink.count(run)) > 0 ? { at: performance.now() } : undefined),
            {
              timeoutMs: 120_000,
              intervalMs: 10,
            },
          );
          // The backlog's object events and the kind's added and synced.
          const last = await waitFor(
            `${sink.name}: ${objects} events`,
            async () => ((await sink.count(run)) >= objects + 2 ? { at: performance.now() } : undefined),
            { timeoutMs: 600_000, intervalMs: 20 },
          );
          rates.push(objects / ((last.at - first.at) / 1000));
          starts.push((last.at - started) / 1000);
          const metrics = async () => (await fetch(`http://127.0.0.1:${port.port}/metrics`)).text();
          const before = lagBuckets(await metrics());
          const atRate = await sink.count(run);
          const patches = rate * seconds;
          const t0 = performance.now();
          const inflight = new Set<Promise<unknown>>();
          for (let k = 0; k < patches; k++) {
            const due = t0 + (k * 1000) / rate;
            const wait = due - performance.now();
            if (wait > 0) await new Promise((r) => setTimeout(r, wait));
            const patch = widgets.patch(widgetName(k % objects), { spec: { replicas: 100_000 + patched++ } }, "merge");
            inflight.add(patch);
            void patch.finally(() => inflight.delete(patch));
            if (inflight.size >= 32) await Promise.race(inflight);
          }
          await Promise.all(inflight);
          await waitFor(
            `${sink.name}: the patches delivered`,
            async () => (await sink.count(run)) >= atRate + patches,
            {
              timeoutMs: 120_000,
              intervalMs: 20,
            },
          );
          const after = lagBuckets(await metrics());
          p50s.push(quantileMs(before, after, 0.5));
          p99s.push(quantileMs(before, after, 0.99));
          delivered = await sink.count(run);
        } finally {
          await p.stop("SIGTERM");
        }
      }
      const r = range(rates);
      results[sink.name] = {
        us_per_event: Number((1e6 / median(rates)).toFixed(1)),
        lag_ms_p50: Number(median(p50s).toFixed(1)),
        lag_ms_p99: Number(median(p99s).toFixed(1)),
      };
      rows.push([
        sink.name,
        median(rates).toFixed(0),
        `${r.min.toFixed(0)}–${r.max.toFixed(0)}`,
        median(starts).toFixed(1),
        median(p50s).toFixed(1),
        median(p99s).toFixed(1),
        String(delivered),
      ]);
      log(`${sink.name}: ${rows.at(-1)?.join(" ")}`);
    }
    console.log(
      [
        ...machineLines(machine),
        `${objects} widgets backlog; lag at ${rate} patches/s for ${seconds} s; ${runs} run(s) per sink`,
        "",
        table(rows),
      ].join("\n"),
    );
    console.log(resultLine("export-sinks", results, "file"));
  } finally {
    await receiver.close();
    await nats.stop();
    await kafka.stop();
    await finish(cluster, transport, { crds: [`widgets.${group}`], namespace });
  }
}
