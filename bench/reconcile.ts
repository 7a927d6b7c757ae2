/**
 * The per-reconcile half of `npm run bench -- queue`: a no-op controller in kindwatch (bench/reconcile-child.ts) and in
 * controller-runtime (bench/controller-runtime, a typed `For(&ConfigMap{})` controller), each in a fresh process
 * against the same server in the same run, order alternating. Each measurement: the controller syncs N ConfigMaps and
 * reconciles each once; then the parent merge-patches all N (an annotation naming the round), `concurrency` at a time,
 * and notes when it sent each patch; the controller notes when it finished the first reconcile that read each object's
 * new round.
 *
 *   us_per_reconcile: the median over the N objects of (reconcile done - patch sent), in µs, on CLOCK_MONOTONIC: how
 *   long a change takes to be reconciled, the server's write and watch delivery included (the same for both). Not
 *   from the patch's answer: on a busy machine the parent reads answers late, after the controller has reconciled.
 *   cpu_us_per_reconcile: the controller process's user + system CPU from the round's start to its last reconcile,
 *   over N: what a change costs the controller, its watch event, cache update, queue and reconcile together.
 */
import { fileURLToPath } from "node:url";
import { DynamicClient } from "../src/client/resource.js";
import { loadConfig } from "../src/config/index.js";
import { Transport } from "../src/http/transport.js";
import { uniqueName } from "../test/support/wait.js";
import { ChildSession } from "./support/child.js";
import { benchCluster, finish } from "./support/cluster.js";
import { ensureGoProgram } from "./support/go-program.js";
import { describeMachine, type Machine } from "./support/machine.js";
import { createAll } from "./support/objects.js";
import { percentile } from "./support/stats.js";

/** The implementations compared: kindwatch's controller and controller-runtime's. */
export const reconcilers = ["kindwatch", "controller-runtime"] as const;
type Reconciler = (typeof reconcilers)[number];

/** One measurement. */
export interface ReconcileSample {
  /** Median and 99th percentile of patch-sent-to-reconcile-done over the objects, µs. */
  readonly p50_us: number;
  readonly p99_us: number;
  /** The controller's CPU over the round, per object, µs. */
  readonly cpu_us: number;
  /** From the first patch sent to the last reconcile done, s. */
  readonly wall_s: number;
  /** Reconciles in the round (more than N when a key was queued again while it waited). */
  readonly reconciles: number;
}

/** What the half measured, and the setup it ran on. */
export interface ReconcileRun {
  readonly machine: Machine;
  readonly samples: Record<Reconciler, ReconcileSample[]>;
  readonly createSeconds: number;
  readonly patchesPerSecond: number[];
}

const roundAnnotation = "bench.kindwatch.dev/round";
const childScript = fileURLToPath(new URL("./reconcile-child.js", import.meta.url));

function isDone(value: Record<string, unknown>): value is { done_ns: number[]; cpu_s: number; reconciles: number } {
  return Array.isArray(value.done_ns) && typeof value.cpu_s === "number" && typeof value.reconciles === "number";
}

/** Runs the per-reconcile measurements on a cluster of its own (or `KINDWATCH_TEST_KUBECONFIG`'s). */
export async function reconcileHalf(
  options: { objects: number; runs: number; concurrency: number },
  log: (line: string) => void,
): Promise<ReconcileRun> {
  const { objects, runs, concurrency } = options;
  const goBinary = await ensureGoProgram(log, "controller-runtime");
  const cluster = await benchCluster(log);
  const transport = new Transport(loadConfig({ kubeconfig: cluster.kubeconfigPath }));
  const client = new DynamicClient(transport);
  const namespace = uniqueName("bench-reconcile");
  const configMaps = client.resource({ group: "", version: "v1", resource: "configmaps" }).namespace(namespace);
  const samples: Record<Reconciler, ReconcileSample[]> = { kindwatch: [], "controller-runtime": [] };
  const patchesPerSecond: number[] = [];
  const timeoutMs = 120_000 + objects * 20;
  try {
    const machine = await describeMachine(transport);
    await client
      .resource({ group: "", version: "v1", resource: "namespaces" })
      .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    log(`creating ${objects} ConfigMaps in ${namespace}, ${concurrency} at a time`);
    const createStarted = performance.now();
    await createAll(objects, concurrency, (i) => ({
      client: configMaps,
      object: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `obj-${i}` }, data: { i: String(i) } },
    }));
    const createSeconds = (performance.now() - createStarted) / 1000;
    const args = ["--kubeconfig", cluster.kubeconfigPath, "--namespace", namespace, "--objects", String(objects)];
    const start: Record<Reconciler, () => ChildSession> = {
      kindwatch: () => new ChildSession(process.execPath, [childScript, ...args]),
      "controller-runtime": () => new ChildSession(goBinary, ["reconcile", ...args]),
    };

    const measure = async (impl: Reconciler, round: string): Promise<ReconcileSample> => {
      const child = start[impl]();
      try {
        const synced = await child.next(timeoutMs);
        if (synced.synced !== true)
          throw new Error(`${impl}: expected {"synced": true}, got ${JSON.stringify(synced)}`);
        child.send(`round ${round}`);
        const ready = await child.next(10_000);
        if (ready.ready !== true) throw new Error(`${impl}: expected {"ready": true}, got ${JSON.stringify(ready)}`);
        const sent: number[] = new Array(objects).fill(0);
        const patch = { metadata: { annotations: { [roundAnnotation]: round } } };
        const started = Number(process.hrtime.bigint());
        let next = 0;
        const patcher = async () => {
          for (let i = next++; i < objects; i = next++) {
            sent[i] = Number(process.hrtime.bigint());
            await configMaps.patch(`obj-${i}`, patch, "merge");
          }
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, objects) }, patcher));
        const patchedNs = Number(process.hrtime.bigint()) - started;
        patchesPerSecond.push(objects / (patchedNs / 1e9));
        const result = await child.next(timeoutMs);
        if (!isDone(result) || result.done_ns.length !== objects) {
          throw new Error(`${impl}: the child printed ${JSON.stringify(result).slice(0, 200)}`);
        }
        const latencies = result.done_ns.map((done, i) => (done - (sent[i] ?? 0)) / 1e3);
        const last = Math.max(...result.done_ns);
        return {
          p50_us: percentile(latencies, 50),
          p99_us: percentile(latencies, 99),
          cpu_us: (result.cpu_s / objects) * 1e6,
          wall_s: (last - started) / 1e9,
          reconciles: result.reconciles,
        };
      } finally {
        await child.stop();
      }
    };

    for (let run = 0; run < runs; run++) {
      for (const impl of run % 2 === 0 ? reconcilers : [...reconcilers].reverse()) {
        const sample = await measure(impl, `${run}-${impl}`);
        samples[impl].push(sample);
        log(
          `reconcile run ${run + 1}/${runs} ${impl}: p50 ${sample.p50_us.toFixed(0)} µs, p99 ${sample.p99_us.toFixed(0)} µs, ` +
            `${sample.cpu_us.toFixed(1)} µs CPU/reconcile, ${sample.reconciles} reconciles in ${sample.wall_s.toFixed(1)} s`,
        );
      }
    }
    return { machine, samples, createSeconds, patchesPerSecond };
  } finally {
    await finish(cluster, transport, { crds: [], namespace });
  }
}
