/**
 * kindwatch's side of `npm run bench -- queue`, in a fresh process: one Workqueue, P async producers adding N distinct
 * keys between them (each awaiting a microtask after every add, so that adds and gets interleave) and W async workers
 * taking each key and marking it done. Prints one JSON line: {"ops", "processed", "wall_s", "cpu_s"}, the clock and the
 * process's CPU (user + system) from the first add to the last done, the keys made beforehand.
 *
 *   node dist/bench/queue-child.js --producers P --workers W --ops N
 */
import { parseArgs } from "node:util";
import { Workqueue } from "../src/queue/index.js";

const { values } = parseArgs({
  options: {
    producers: { type: "string", default: "4" },
    workers: { type: "string", default: "4" },
    ops: { type: "string", default: "100000" },
  },
});
const producers = Number(values.producers);
const workers = Number(values.workers);
const ops = Number(values.ops);
const keys = Array.from({ length: ops }, (_, i) => `bench/key-${i}`);
const queue = new Workqueue();
let processed = 0;

const work = async () => {
  for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
    queue.done(key);
    if (++processed === ops) queue.shutDown();
  }
};
const produce = async (p: number) => {
  for (let i = p; i < keys.length; i += producers) {
    queue.add(keys[i] as string);
    await undefined;
  }
};

const cpuBefore = process.cpuUsage();
const started = performance.now();
await Promise.all([
  ...Array.from({ length: workers }, work),
  ...Array.from({ length: producers }, (_, p) => produce(p)),
]);
const wall = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({ ops, processed, wall_s: wall, cpu_s: (cpu.user + cpu.system) / 1e6 }));
