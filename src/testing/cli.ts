#!/usr/bin/env node
/**
 * `kindwatch-test-cluster`: build the binaries, start a cluster in the background, stop it.
 *
 *   kindwatch-test-cluster binaries [--full]         build (or find) the binaries, print their paths
 *   kindwatch-test-cluster up [--dir D] [--full]     start a cluster in the background; admin kubeconfig in D/kubeconfig
 *   kindwatch-test-cluster down [--dir D]            stop it and remove its data
 *
 * `--full` is the full control plane: kube-controller-manager, kube-scheduler and KWOK's fake nodes as well.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rm } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type ClusterState, writeClusterState } from "./attach.js";
import { type ControlPlane, ensureBinaries } from "./binaries.js";
import { TestCluster } from "./cluster.js";

const usage = "usage: kindwatch-test-cluster binaries [--full] | up [--dir DIR] [--full] | down [--dir DIR]";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function readState(dir: string): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

async function sleep(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
}

/** Runs the cluster in the foreground until SIGTERM or SIGINT (what `up` starts in the background). */
async function serve(dir: string, controlPlane: ControlPlane) {
  const started = Date.now();
  const kubeconfigPath = join(dir, "kubeconfig");
  const cluster = await TestCluster.start({ kubeconfigPath, controlPlane, log: (line) => console.log(line) });
  await writeClusterState(cluster, join(dir, "state.json"));
  console.log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s at ${cluster.server}`);
  const shutdown = async () => {
    await cluster.stop();
    await rm(join(dir, "state.json"), { force: true });
    await rm(kubeconfigPath, { force: true });
    process.exit(0);
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
}

async function up(dir: string, controlPlane: ControlPlane) {
  const existing = await readState(dir);
  if (existing && alive(existing.pid)) {
    console.log(`a cluster is already running at ${existing.server}; kubeconfig: ${existing.kubeconfigPath}`);
    return;
  }
  await mkdir(dir, { recursive: true });
  await rm(join(dir, "state.json"), { force: true });
  // The Go build can take minutes and prints progress: do it in the foreground, where the user sees it.
  const binaries = await ensureBinaries({ controlPlane, log: (line) => console.log(line) });
  console.log(`kube-apiserver: ${binaries.kubeApiServer} (${binaries.origin})`);
  const logPath = join(dir, "cluster.log");
  const log = openSync(logPath, "w");
  const args = [fileURLToPath(import.meta.url), "serve", "--dir", dir, ...(controlPlane === "full" ? ["--full"] : [])];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  child.unref();
  const deadline = Date.now() + 180_000;
  for (;;) {
    const state = await readState(dir);
    if (state) {
      console.log(`cluster up at ${state.server}`);
      console.log(`  export KUBECONFIG=${resolve(state.kubeconfigPath)}`);
      console.log(`  logs: ${logPath}; stop it with: npm run cluster:down`);
      return;
    }
    if (child.exitCode !== null || !alive(child.pid ?? -1)) {
      throw new Error(
        `the cluster failed to start; see ${logPath}:\n${(await readFile(logPath, "utf8")).slice(-3000)}`,
      );
    }
    if (Date.now() > deadline) throw new Error(`the cluster did not start within 180 s; see ${logPath}`);
    await sleep(200);
  }
}

async function down(dir: string) {
  const state = await readState(dir);
  if (!state || !alive(state.pid)) {
    await rm(join(dir, "state.json"), { force: true });
    console.log("no cluster is running");
    return;
  }
  process.kill(state.pid, "SIGTERM");
  const deadline = Date.now() + 30_000;
  while (alive(state.pid)) {
    if (Date.now() > deadline) {
      process.kill(state.pid, "SIGKILL");
      break;
    }
    await sleep(100);
  }
  console.log("cluster stopped");
}

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { dir: { type: "string", default: ".cluster" }, full: { type: "boolean", default: false } },
  });
  const dir = resolve(values.dir ?? ".cluster");
  const controlPlane: ControlPlane = values.full ? "full" : "bare";
  switch (positionals[0]) {
    case "binaries": {
      const { origin, ...paths } = await ensureBinaries({ controlPlane, log: (line) => console.log(line) });
      for (const path of Object.values(paths)) if (path) console.log(`${basename(path)}: ${path}`);
      console.log(`origin: ${origin}`);
      return;
    }
    case "up":
      return up(dir, controlPlane);
    case "down":
      return down(dir);
    case "serve":
      return serve(dir, controlPlane);
    default:
      console.error(usage);
      process.exitCode = 2;
  }
}

main().catch((err: unknown) => {
  console.error(`kindwatch-test-cluster: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
