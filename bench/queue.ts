/**
 * The queue benchmark: what a workqueue operation costs, kindwatch's `Workqueue` against client-go's rate-limiting
 * workqueue (`bench/client-go/workqueue.go`, client-go as pinned in its go.mod). Each measurement is a fresh process:
 * P producers add N distinct keys between them while W workers take each key and mark it done (add + get + done per
 * key), the order of the two alternating from run to run.
 *
 *   us_per_op: wall time from the first add to the last done, over N.
 *   cpu_us_per_op: the process's user + system CPU over the same span, over N (Go spreads over the cores, Node.js
 *   runs on one thread: wall time is what a controller waits, CPU what it pays).
 *
 * Then the per-reconcile half (bench/reconcile.ts), against a controller-runtime no-op controller on a cluster it
 * starts (or `KINDWATCH_TEST_KUBECONFIG`'s): `us_per_reconcile` and `cpu_us_per_reconcile`; `--objects 0` skips it.
 */
import { readFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type ReconcileRun, reconcileHalf, reconcilers } from "./reconcile.js";
import { ChildSession, runChild } from "./support/child.js";
import { ensureGoProgram } from "./support/go-program.js";
import { describeHost, machineLines } from "./support/machine.js";
import { type Results, resultLine, table } from "./support/report.js";
import { median, range } from "./support/stats.js";

const ours = "kindwatch";
const peer = "client-go";
const childScript = fileURLToPath(new URL("./queue-child.js", import.meta.url));
const goMod = fileURLToPath(new URL("../../bench/client-go/go.mod", import.meta.url));
const controllerRuntimeGoMod = fileURLToPath(new URL("../../bench/controller-runtime/go.mod", import.meta.url));

/** What one measurement reports. */
interface Sample {
  readonly ops: number;
  readonly processed: number;
  readonly wall_s: number;
  readonly cpu_s: number;
}

function isSample(value: unknown): value is Sample {
  const v = value as Record<string, unknown> | null;
  return ["ops", "processed", "wall_s", "cpu_s"].every((k) => typeof v?.[k] === "number");
}

/** Runs the queue benchmark; prints the table, then the JSON line. */
export async function queueBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      ops: { type: "string", default: "100000" },
      producers: { type: "string", default: "4" },
      workers: { type: "string", default: "4" },
      runs: { type: "string", default: "5" },
      objects: { type: "string", default: "10000" },
      "reconcile-runs": { type: "string", default: "3" },
      concurrency: { type: "string", default: "32" },
    },
  });
  const ops = Number(values.ops);
  const producers = Number(values.producers);
  const workers = Number(values.workers);
  const runs = Number(values.runs);
  const objects = Number(values.objects);
  const reconcileRuns = Number(values["reconcile-runs"]);
  const concurrency = Number(values.concurrency);
  for (const [name, n] of Object.entries({ ops, producers, workers, runs, reconcileRuns, concurrency })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${n}`);
  }
  if (!Number.isInteger(objects) || objects < 0) throw new Error(`--objects must be an integer >= 0, not ${objects}`);
  const log = (line: string) => console.error(line);
  const binary = await ensureGoProgram(log);
  const clientGo = /k8s\.io\/client-go (v\S+)/.exec(await readFile(goMod, "utf8"))?.[1] ?? "unknown";
  let machine = describeHost("none (no server needed)");
  const loadAtStart = loadavg()[0] ?? 0;
  const args = ["--producers", String(producers), "--workers", String(workers), "--ops", String(ops)];
  const timeoutMs = 60_000 + ops;

  const measure: Record<string, () => Promise<unknown>> = {
    [ours]: () => runChild(childScript, args, timeoutMs),
    [peer]: async () => {
      const child = new ChildSession(binary, ["workqueue", ...args]);
      try {
        const result = await child.next(timeoutMs);
        await child.end(10_000);
        return result;
      } finally {
        await child.stop();
      }
    },
  };
  const samples: Record<string, Sample[]> = { [ours]: [], [peer]: [] };
  for (let run = 0; run < runs; run++) {
    for (const impl of run % 2 === 0 ? [ours, peer] : [peer, ours]) {
      const sample = await (measure[impl] as () => Promise<unknown>)();
      if (!isSample(sample)) throw new Error(`${impl}: the child printed ${JSON.stringify(sample)}`);
      if (sample.processed !== ops) throw new Error(`${impl} processed ${sample.processed} keys, not ${ops}`);
      samples[impl]?.push(sample);
      log(
        `run ${run + 1}/${runs} ${impl}: ${((sample.wall_s / ops) * 1e6).toFixed(3)} µs/op, ` +
          `${((sample.cpu_s / ops) * 1e6).toFixed(3)} µs CPU/op`,
      );
    }
  }

  const results: Results = {};
  const rows: string[][] = [["implementation", "µs/op", "min..max", "CPU µs/op", "min..max"]];
  for (const impl of [ours, peer]) {
    const perOp = (samples[impl] ?? []).map((s) => (s.wall_s / ops) * 1e6);
    const cpuPerOp = (samples[impl] ?? []).map((s) => (s.cpu_s / ops) * 1e6);
    const wall = range(perOp);
    const cpu = range(cpuPerOp);
    results[impl] = {
      us_per_op: Number(median(perOp).toFixed(3)),
      cpu_us_per_op: Number(median(cpuPerOp).toFixed(3)),
    };
    rows.push([
      impl,
      median(perOp).toFixed(3),
      `${wall.min.toFixed(3)}..${wall.max.toFixed(3)}`,
      median(cpuPerOp).toFixed(3),
      `${cpu.min.toFixed(3)}..${cpu.max.toFixed(3)}`,
    ]);
  }
  let reconcileLines: string[] = [];
  if (objects > 0) {
    const half = await reconcileHalf({ objects, runs: reconcileRuns, concurrency }, log);
    machine = half.machine;
    const crMod = await readFile(controllerRuntimeGoMod, "utf8");
    const version = /sigs\.k8s\.io\/controller-runtime (v\S+)/.exec(crMod)?.[1] ?? "unknown";
    reconcileLines = reconcileReport(half, { objects, concurrency, version }, results);
  }
  console.log(
    [
      `queue: ${ops} distinct keys, ${producers} producers adding, ${workers} workers taking and marking done`,
      ...machineLines(machine),
      `peers:      client-go ${clientGo} (NewTypedRateLimitingQueueWithConfig, DefaultTypedControllerRateLimiter)`,
      `load:       1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end`,
      `method:     median of ${runs} runs, each a fresh process per implementation, order alternating; Node.js`,
      "            producers await a microtask after each add, Go's are goroutines",
      "",
      table(rows),
      ...reconcileLines,
      resultLine("queue", results, ours),
    ].join("\n"),
  );
}

/** The per-reconcile half's lines of the report; adds its metrics to `results`. */
function reconcileReport(
  half: ReconcileRun,
  setup: { objects: number; concurrency: number; version: string },
  results: Results,
): string[] {
  const { objects, concurrency, version } = setup;
  const rows: string[][] = [
    ["implementation", "µs/reconcile", "min..max", "p99 µs", "CPU µs/reconcile", "min..max", "reconciles"],
  ];
  for (const impl of reconcilers) {
    const samples = half.samples[impl];
    const p50 = samples.map((s) => s.p50_us);
    const cpu = samples.map((s) => s.cpu_us);
    const wall = range(p50);
    const cpuRange = range(cpu);
    results[impl] = {
      ...results[impl],
      us_per_reconcile: Number(median(p50).toFixed(1)),
      cpu_us_per_reconcile: Number(median(cpu).toFixed(2)),
    };
    rows.push([
      impl,
      median(p50).toFixed(0),
      `${wall.min.toFixed(0)}..${wall.max.toFixed(0)}`,
      median(samples.map((s) => s.p99_us)).toFixed(0),
      median(cpu).toFixed(1),
      `${cpuRange.min.toFixed(1)}..${cpuRange.max.toFixed(1)}`,
      samples.map((s) => s.reconciles).join(","),
    ]);
  }
  const rate = median(half.patchesPerSecond);
  return [
    "",
    `reconcile:  ${objects} ConfigMaps, a no-op controller each (kindwatch's controller(), controller-runtime's`,
    "            typed For(&ConfigMap{})), one worker; all N merge-patched once per measurement",
    `            (${concurrency} at a time, ${Math.round(rate)} patches/s median); created in ${half.createSeconds.toFixed(1)} s`,
    `peers:      controller-runtime ${version} (its own go.mod, bench/controller-runtime)`,
    `method:     median of ${half.samples.kindwatch.length} runs, a fresh process per measurement, order alternating;`,
    "            µs/reconcile: median over the objects of patch sent -> reconcile done (CLOCK_MONOTONIC);",
    "            CPU: the controller process's user+system from the round's start to its last reconcile, over N",
    "",
    table(rows),
  ];
}
