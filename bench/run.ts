/**
 * Runs one benchmark against the local cluster (or `KINDWATCH_TEST_KUBECONFIG`): a table for people, then one JSON
 * line for machines as the very last line of stdout.
 *
 *   npm run bench -- NAME [OPTIONS]      e.g. `npm run bench -- list`, `npm run bench -- informer --objects 10000`
 */
import { cliBench } from "./cli.js";
import { exportSinksBench } from "./export-sinks.js";
import { gatewayBench } from "./gateway.js";
import { informerBench } from "./informer.js";
import { listBench } from "./list.js";
import { operatorBench } from "./operator.js";
import { queueBench } from "./queue.js";
import { sinksNatsBench } from "./sinks-nats.js";
import { storeBench } from "./store.js";
import { watchallBench } from "./watchall.js";

const benchmarks: Record<string, (argv: readonly string[]) => Promise<void>> = {
  cli: cliBench,
  "export-sinks": exportSinksBench,
  gateway: gatewayBench,
  informer: informerBench,
  list: listBench,
  operator: operatorBench,
  queue: queueBench,
  "sinks-nats": sinksNatsBench,
  store: storeBench,
  watchall: watchallBench,
};

const [name, ...rest] = process.argv.slice(2);
const bench = name ? benchmarks[name] : undefined;
if (!bench) {
  console.error(`usage: npm run bench -- NAME [OPTIONS], where NAME is one of: ${Object.keys(benchmarks).join(", ")}`);
  process.exit(2);
}
try {
  await bench(rest);
} catch (err) {
  console.error(`bench ${name} failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
