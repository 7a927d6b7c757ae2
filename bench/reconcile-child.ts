/**
 * kindwatch's side of `npm run bench -- queue`'s per-reconcile half, in a fresh process: a no-op controller `for` the
 * ConfigMaps of one namespace, whose reconcile reads the object from the cache and returns, as
 * bench/controller-runtime/main.go's does (same protocol):
 *
 *   node dist/bench/reconcile-child.js --kubeconfig P --namespace NS --objects N
 *
 * It prints {"synced": true} once every one of the N objects (obj-0 .. obj-N-1) has been reconciled once, then waits
 * for "round R" on stdin, answers {"ready": true}, and from then on records for each object the time the first
 * reconcile that read annotation bench.kindwatch.dev/round=R finished (CLOCK_MONOTONIC nanoseconds, process.hrtime).
 * Once all N have, it prints {"done_ns": [...by object index], "cpu_s", "reconciles"}: the process's user + system CPU
 * from "round R" on. EOF on stdin ends it.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { connect } from "../src/connect.js";
import { controller, done } from "../src/controller/index.js";

const roundAnnotation = "bench.kindwatch.dev/round";

const { values } = parseArgs({
  options: {
    kubeconfig: { type: "string" },
    namespace: { type: "string" },
    objects: { type: "string", default: "10000" },
  },
});
const objects = Number(values.objects);
if (!values.kubeconfig || !values.namespace || !Number.isInteger(objects) || objects < 1) {
  throw new Error("usage: reconcile-child.js --kubeconfig P --namespace NS --objects N");
}
const cluster = connect({ kubeconfig: values.kubeconfig, env: {} });

const seen = new Uint8Array(objects);
let seenCount = 0;
const doneNs: number[] = new Array(objects).fill(0);
let doneCount = 0;
let round: string | undefined;
let reconciles = 0;
let synced: () => void = () => {};
const allSynced = new Promise<void>((resolve) => {
  synced = resolve;
});
let finished: () => void = () => {};

const configMaps = { group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true };
const c = controller(cluster, { name: "bench-noop", namespace: values.namespace, logger: "none" })
  .for(configMaps)
  .reconcile(async (req, ctx) => {
    const cm = ctx.get(req);
    if (!cm) return done();
    const index = Number(req.name.slice("obj-".length));
    if (!req.name.startsWith("obj-") || !Number.isInteger(index) || index < 0 || index >= objects) return done();
    reconciles++;
    const now = Number(process.hrtime.bigint());
    if (!seen[index]) {
      seen[index] = 1;
      if (++seenCount === objects) synced();
    }
    if (round !== undefined && cm.metadata.annotations?.[roundAnnotation] === round && doneNs[index] === 0) {
      doneNs[index] = now;
      if (++doneCount === objects) finished();
    }
    return done();
  });

const stop = new AbortController();
const running = c.run(stop.signal);
await Promise.race([allSynced, running.then(() => Promise.reject(new Error("the controller stopped before sync")))]);
console.log(JSON.stringify({ synced: true }));

for await (const line of createInterface({ input: process.stdin })) {
  const wanted = /^round (\S+)$/.exec(line.trim())?.[1];
  if (wanted === undefined) continue;
  const allDone = new Promise<void>((resolve) => {
    finished = resolve;
  });
  doneNs.fill(0);
  doneCount = 0;
  reconciles = 0;
  round = wanted;
  const cpuBefore = process.cpuUsage();
  console.log(JSON.stringify({ ready: true }));
  await allDone;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(JSON.stringify({ done_ns: doneNs, cpu_s: (cpu.user + cpu.system) / 1e6, reconciles }));
}
stop.abort();
await running;
await cluster.close();
