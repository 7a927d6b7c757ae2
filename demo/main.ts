#!/usr/bin/env node
/**
 * The kindwatch demo (`npm start`): starts a local kube-apiserver + etcd, installs the operator's CRDs and two sample
 * ones, starts a stand-in model server, `kindwatch gateway` and `kindwatch operator`, runs `kindwatch watch` on every
 * custom kind, then for about a minute creates, changes and deletes objects (and a whole CRD) while the watch shows
 * each change and requests go through the gateway. Each step waits until the watch has shown it (and checks what the
 * gateway answered), so a demo that finishes is also a check; it exits 1 naming what was not shown.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type Cluster, connect, isNotFound } from "../src/index.js";
import { TestCluster } from "../src/testing/index.js";
import { GatewayProcess } from "../test/support/gateway.js";
import { OpenAIUpstream } from "../test/support/openai-upstream.js";
import { OperatorProcess } from "../test/support/operator.js";
import { processTempDir } from "../test/support/tempdir.js";
import { installCrd, readCrds, readOperatorCrds, removeCrd } from "./crds.js";
import { type Expect, Follower } from "./follow.js";
import { initial, live, namespaces, type Plane, prepare } from "./scenario.js";

const usage = `usage: npm start -- [--pace MS] [--kubeconfig FILE] [--timeout MS] [--full]

Starts a local Kubernetes API server, installs the operator's CRDs (deploy/crds) and the demo's (demo/crds), starts
a stand-in model, \`kindwatch gateway\` and \`kindwatch operator\`, and shows \`kindwatch watch\` following a scripted
minute of changes: a profile and a binding made Ready, requests through the gateway (a limit hit, a profile change
taking effect), and a CRD installed, moved to a new version and deleted while it runs.

  --pace MS          pause after each step once the watch has shown it (default 2500; 0 runs as fast as it can)
  --kubeconfig FILE  use this cluster instead of starting one; what the demo made is deleted at the end
  --timeout MS       how long a step may take to show up before the demo fails (default 30000)
  --full             start the full control plane: controllers, scheduler and fake nodes besides the API server,
                     and add an AIModelDeployment whose (simulated) Pods come up
`;

const root = fileURLToPath(new URL("../../", import.meta.url));
const colour = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code: number, text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
const say = (text: string) => process.stdout.write(`${paint(36, `▸ ${text}`)}\n`);
const print = (line: string) => process.stdout.write(`${paint(33, line)}\n`);

function options() {
  const { values } = parseArgs({
    options: {
      pace: { type: "string", default: "2500" },
      kubeconfig: { type: "string" },
      timeout: { type: "string", default: "30000" },
      full: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const pace = Number(values.pace);
  const timeout = Number(values.timeout);
  if (!Number.isFinite(pace) || pace < 0 || !Number.isFinite(timeout) || timeout <= 0) {
    throw new Error("--pace and --timeout take milliseconds (e.g. --pace 1000)");
  }
  return { pace, timeout, kubeconfig: values.kubeconfig, full: values.full === true };
}

/** Starts `kindwatch watch` on every custom kind, its output followed. */
function startWatch(kubeconfig: string): { child: ChildProcess; follower: Follower } {
  const cli = `${root}dist/src/cli/main.js`;
  const child = spawn(process.execPath, [cli, "watch", "--kubeconfig", kubeconfig, "--progress"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...(colour ? { FORCE_COLOR: "1" } : {}) },
  });
  if (!child.stdout || !child.stderr) throw new Error("kindwatch watch has no output streams");
  return { child, follower: new Follower(child.stdout, child.stderr, process.stdout, process.stderr) };
}

async function stopWatch(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill("SIGINT");
  return exited;
}

/** The stand-in model, the gateway and the operator, each started as it would run beside a cluster. */
interface Processes {
  model?: OpenAIUpstream;
  gateway?: GatewayProcess;
  operator?: OperatorProcess;
}

async function startPlane(cluster: Cluster, kubeconfig: string, timeout: number, started: Processes): Promise<Plane> {
  const model = await OpenAIUpstream.start("stand-in");
  started.model = model;
  say(`start a stand-in model server (OpenAI-compatible) on ${model.url}: the cluster has no Pods to run a real one`);
  const gateway = await GatewayProcess.start({ flags: ["--access-log=false"] });
  started.gateway = gateway;
  say(`start \`kindwatch gateway\`: requests on ${gateway.url}, admin API on ${gateway.adminUrl}`);
  const tokenFile = join(processTempDir("kindwatch-demo"), "gateway-token");
  writeFileSync(tokenFile, `${gateway.token}\n`, { mode: 0o600 });
  const template = `${model.url}/{namespace}/{name}/{port}`;
  const args = ["operator", "--gateway-admin-url", gateway.adminUrl, "--gateway-token-file", tokenFile];
  args.push("--metrics-listen", "127.0.0.1:0", "--service-url-template", template);
  say(`start \`kindwatch ${args.join(" ")}\``);
  started.operator = await OperatorProcess.start(args, kubeconfig);
  return { cluster, gateway, model, print, timeout };
}

async function stopPlane(started: Processes): Promise<void> {
  await Promise.all([started.operator?.kill("SIGTERM"), started.gateway?.stop()]);
  await started.model?.stop();
}

/** The operator's last log lines, for a demo that failed. */
function operatorLog(started: Processes): string {
  const lines = started.operator?.cli.stderr.trim().split("\n").slice(-8) ?? [];
  return lines.length > 0 ? `\nthe operator's last log lines:\n${lines.join("\n")}` : "";
}

async function run(
  plane: Plane,
  kubeconfig: string,
  full: boolean,
  pace: number,
  timeout: number,
  signal: AbortSignal,
) {
  for (const step of initial) {
    say(step.say);
    await step.run(plane);
  }

  say("start `kindwatch watch` (every custom kind): what exists comes first, marked (initial)");
  const { child, follower } = startWatch(kubeconfig);
  let shown = 0;
  try {
    // The progress line's last word on the initial lists: every kind synced.
    const settled: Expect = { notice: "watching ", shows: " synced" };
    await follower.expect([...initial.flatMap((s) => s.expect), settled], 0, timeout);
    shown += initial.length;
    for (const step of live(full)) {
      signal.throwIfAborted();
      if (pace > 0) await sleep(pace, undefined, { signal });
      say(step.say);
      const from = follower.count;
      await step.run(plane);
      await follower.expect(step.expect, from, timeout);
      shown += step.expect.length;
      await step.confirm?.(plane);
    }
  } catch (e) {
    await stopWatch(child);
    throw e;
  }
  const code = await stopWatch(child);
  if (code !== 130) throw new Error(`kindwatch watch exited with ${code} on Ctrl-C, not 130`);
  say(`done: kindwatch watch showed all ${shown} changes, each within ${timeout / 1000} s, and stopped on Ctrl-C`);
}

/** Installs every CRD the demo uses from the start: the operator's and BackupSchedule. */
async function installCrds(cluster: Cluster) {
  say(
    "install the operator's CRDs (deploy/crds: AIModelBinding, AIModelDeployment, LLMInvocationProfile) and demo/crds (BackupSchedule)",
  );
  for (const crd of [...(await readOperatorCrds()), ...(await readCrds("crds"))]) await installCrd(cluster, crd);
}

/** Deletes what the demo made, while the operator still runs to release its finalizers. */
async function cleanUp(cluster: Cluster) {
  for (const crd of [...(await readOperatorCrds()), ...(await readCrds("crds")), ...(await readCrds("later"))]) {
    await removeCrd(cluster, crd.metadata.name ?? "");
  }
  const api = cluster.resource({ group: "", version: "v1", resource: "namespaces" });
  for (const name of namespaces) {
    await api.delete(name).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof options>;
  try {
    parsed = options();
  } catch (e) {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}; see npm start -- --help\n`);
    return 2;
  }
  const { pace, timeout, kubeconfig, full } = parsed;
  const abort = new AbortController();
  let local: TestCluster | undefined;
  // The first Ctrl-C stops the demo (the test cluster's own handler stops the cluster at once); a second one exits.
  const interrupted = () => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort(new Error("interrupted"));
  };
  process.on("SIGINT", interrupted);
  process.on("SIGTERM", interrupted);
  try {
    if (!kubeconfig) {
      say(
        full
          ? "start a local control plane: kube-apiserver, etcd, kube-controller-manager, kube-scheduler, KWOK nodes"
          : "start a local kube-apiserver + etcd (the first run builds them from their Go modules: 10 minutes or more)",
      );
      local = await TestCluster.start({
        controlPlane: full ? "full" : "bare",
        log: (line) => process.stderr.write(`${paint(2, line)}\n`),
      });
      say(`kube-apiserver ${local.server} is up; kubeconfig: ${local.kubeconfigPath}`);
    }
    const config = kubeconfig ?? local?.kubeconfigPath ?? "";
    const cluster = connect({ kubeconfig: config });
    const started: Processes = {};
    try {
      await installCrds(cluster);
      await prepare(cluster);
      const plane = await startPlane(cluster, config, timeout, started);
      try {
        await run(plane, config, full, pace, timeout, abort.signal);
      } catch (e) {
        throw new Error(`${e instanceof Error ? e.message : String(e)}${operatorLog(started)}`);
      }
      if (kubeconfig) {
        say("delete what the demo made");
        await cleanUp(cluster);
      }
    } finally {
      await stopPlane(started);
      await cluster.close();
    }
    if (!kubeconfig) {
      say("to try it yourself: `npm run cluster:up`, `export KUBECONFIG=$PWD/.cluster/kubeconfig`,");
      say(
        "`node dist/src/cli/main.js watch` (the kindwatch command), and in another terminal `npm start -- --kubeconfig $KUBECONFIG`",
      );
    }
    return 0;
  } catch (e) {
    if (abort.signal.aborted) return 130;
    process.stderr.write(`${paint(31, "demo failed:")} ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    await local?.stop();
  }
}

process.exitCode = await main();
