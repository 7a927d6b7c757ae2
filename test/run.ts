/**
 * The test runner behind `npm test`: starts one real cluster for the whole run (unless KINDWATCH_TEST_KUBECONFIG points
 * at one), runs every compiled test file with Node's test runner, and stops the cluster however the run ends.
 *
 *   node dist/test/run.js [PREFIX...]     e.g. `unit`, `integration/cluster`: only files under dist/test/PREFIX
 */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { TestCluster, type TestClusterOptions, writeClusterState } from "../src/testing/index.js";

const root = fileURLToPath(new URL(".", import.meta.url));

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? testFiles(join(dir, e.name)) : e.name.endsWith(".test.js") ? [join(dir, e.name)] : [],
    )
    .sort();
}

const prefixes = process.argv.slice(2);
const files = testFiles(root).filter(
  (f) => prefixes.length === 0 || prefixes.some((p) => relative(root, f).startsWith(p)),
);
if (files.length === 0) {
  console.error(`no test files match ${prefixes.join(" ")}`);
  process.exit(2);
}
// Fault tests start clusters of their own, which they may kill; the integration tests share one, the full/ ones another.
const needs = (dir: string) => files.some((f) => relative(root, f).startsWith(dir));

const env = { ...process.env };
const clusters: TestCluster[] = [];
const stateDir = await mkdtemp(join(tmpdir(), "kindwatch-test-"));

/** Starts a cluster for the run and publishes its state file in `env[stateVar]`. */
async function shared(tag: string, stateVar: string, options: TestClusterOptions) {
  const started = Date.now();
  const cluster = await TestCluster.start({ ...options, log: (line) => console.error(`[${tag}] ${line}`) });
  clusters.push(cluster);
  const statePath = join(stateDir, `${tag}.json`);
  await writeClusterState(cluster, statePath);
  env[stateVar] = statePath;
  console.error(`[${tag}] ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${cluster.server}`);
}

try {
  await Promise.all([
    needs("integration") && !env.KINDWATCH_TEST_KUBECONFIG && shared("cluster", "KINDWATCH_TEST_CLUSTER", {}),
    needs("full") &&
      !env.KINDWATCH_TEST_FULL_KUBECONFIG &&
      shared("full-cluster", "KINDWATCH_TEST_FULL_CLUSTER", { controlPlane: "full" }),
  ]);
} catch (err) {
  await Promise.all(clusters.map((c) => c.stop()));
  await rm(stateDir, { recursive: true, force: true });
  throw err;
}

const child = spawn(
  process.execPath,
  ["--test", "--test-reporter=spec", `--test-concurrency=${Math.max(2, availableParallelism())}`, ...files],
  { stdio: "inherit", env },
);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => child.kill(signal));
}
const code: number = await new Promise((resolve) => child.on("close", (c, s) => resolve(c ?? (s ? 1 : 0))));
await Promise.all(clusters.map((c) => c.stop()));
await rm(stateDir, { recursive: true, force: true });
process.exit(code);
