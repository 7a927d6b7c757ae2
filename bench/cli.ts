/**
 * The command-line benchmark: `kindwatch` against `kubectl` for the commands people type every day, each run a whole
 * process as a shell starts it (`/usr/bin/time` reports its CPU and peak RSS), with the discovery cache of each tool
 * warm (filled by an earlier run) and cold (an empty cache directory). Runs are paired and interleaved: every round
 * runs every case of both tools, the tool that goes first alternating, so that a shared machine's drift falls on both.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DynamicClient } from "../src/client/resource.js";
import { loadConfig } from "../src/config/index.js";
import { Transport } from "../src/http/transport.js";
import { kubectlBinary } from "../test/support/kubectl.js";
import { uniqueName } from "../test/support/wait.js";
import { benchCluster, finish } from "./support/cluster.js";
import { describeMachine, machineLines } from "./support/machine.js";
import { createAll } from "./support/objects.js";
import { type Results, ratios, resultLine, table } from "./support/report.js";
import { median, range } from "./support/stats.js";

const ours = "kindwatch";
const peer = "kubectl";
const cliPath = fileURLToPath(new URL("../src/cli/kindwatch.js", import.meta.url));
const gnuTime = "/usr/bin/time";
const runTimeoutMs = 60_000;

/** One command, as each tool spells it; `untilFirstLine`: measured to its first line of output, then stopped. */
interface Case {
  readonly name: string;
  readonly kindwatch: readonly string[];
  readonly kubectl: readonly string[];
  readonly untilFirstLine?: boolean;
}

interface Sample {
  readonly wall_s: number;
  readonly cpu_s: number;
  readonly peak_rss_bytes: number;
}

const metrics = ["wall_s", "cpu_s", "peak_rss_bytes"] as const;

/** Runs `argv` under GNU time; resolves with its figures. With `untilFirstLine`, stops it at its first stdout line. */
function measure(argv: readonly string[], env: NodeJS.ProcessEnv, untilFirstLine: boolean): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(gnuTime, ["-f", "BENCH %U %S %M", ...argv], { env, stdio: ["ignore", "pipe", "pipe"] });
    let wall: number | undefined;
    let stderr = "";
    let stdout = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), runTimeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (untilFirstLine && wall === undefined && stdout.includes("\n")) {
        wall = (performance.now() - started) / 1000;
        void stopMeasured(child);
      }
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const end = (performance.now() - started) / 1000;
      const figures = /^BENCH (\S+) (\S+) (\d+)$/m.exec(stderr);
      if (!figures) return reject(new Error(`${argv.join(" ")}: no figures from ${gnuTime} (exit ${code}): ${stderr}`));
      if (!untilFirstLine && /^Command (exited|terminated)/m.test(stderr)) {
        return reject(new Error(`${argv.join(" ")} failed: ${stderr.trim()}`));
      }
      if (untilFirstLine && wall === undefined) return reject(new Error(`${argv.join(" ")} printed nothing`));
      resolve({
        wall_s: wall ?? end,
        cpu_s: Number(figures[1]) + Number(figures[2]),
        peak_rss_bytes: Number(figures[3]) * 1024,
      });
    });
  });
}

/** SIGTERM to the process GNU time runs (not to time itself, which must live to report). */
async function stopMeasured(time: ChildProcess): Promise<void> {
  const pid = time.pid;
  if (pid === undefined) return;
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
  for (const child of children.trim().split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(child), "SIGTERM");
    } catch {
      // Already gone.
    }
  }
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

/** Runs the CLI benchmark; prints the table, then the JSON line. */
export async function cliBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: { runs: { type: "string", default: "9" }, configmaps: { type: "string", default: "200" } },
  });
  const runs = Number(values.runs);
  const configmaps = Number(values.configmaps);
  for (const [name, n] of Object.entries({ runs, configmaps })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${n}`);
  }
  try {
    await access(gnuTime);
  } catch {
    throw new Error(`${gnuTime} (GNU time, Debian's package "time") measures each process's CPU and peak RSS`);
  }
  const log = (line: string) => console.error(line);
  const cluster = await benchCluster(log);
  const transport = new Transport(loadConfig({ kubeconfig: cluster.kubeconfigPath }));
  const client = new DynamicClient(transport);
  const namespace = uniqueName("bench-cli");
  const scratch = await mkdtemp(join(tmpdir(), "kindwatch-bench-cli-"));
  const samples = new Map<string, Sample[]>();
  let output: string[];
  try {
    const machine = await describeMachine(transport);
    const kubectl = await kubectlBinary();
    await client
      .resource({ group: "", version: "v1", resource: "namespaces" })
      .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    const cms = client.resource({ group: "", version: "v1", resource: "configmaps" }).namespace(namespace);
    log(`creating ${configmaps} configmaps in ${namespace}`);
    await createAll(configmaps, 16, (i) => ({
      client: cms,
      object: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}` }, data: { key: `value-${i}` } },
    }));

    const cases: Case[] = [
      { name: "get cm -A", kindwatch: ["get", "configmaps", "-A"], kubectl: ["get", "cm", "-A"] },
      {
        name: "get cm -A -o json",
        kindwatch: ["get", "configmaps", "-A", "-o", "json"],
        kubectl: ["get", "cm", "-A", "-o", "json"],
      },
      { name: "kinds / api-resources", kindwatch: ["kinds"], kubectl: ["api-resources"] },
      {
        name: "watch cm, first event",
        kindwatch: ["watch", "configmaps", "-n", namespace],
        kubectl: ["get", "cm", "-w", "-n", namespace],
        untilFirstLine: true,
      },
    ];
    // NODE_EXTRA_CA_CERTS goes: a machine setting for package downloads through a proxy here, not kindwatch's; Node 20
    // parses the named bundle at every start (~60 ms of CPU), kubectl ignores it. The clusters' own CAs come from the
    // kubeconfig for both tools.
    const { NODE_EXTRA_CA_CERTS: _machineCa, ...inherited } = process.env;
    const env = { ...inherited, KUBECONFIG: cluster.kubeconfigPath };
    const warmDir: Record<string, string> = {
      [ours]: join(scratch, "kindwatch-warm"),
      [peer]: join(scratch, "kubectl-warm"),
    };
    let cold = 0;
    const command = (tool: string, c: Case, warm: boolean): string[] => {
      const dir = warm ? (warmDir[tool] as string) : join(scratch, `cold-${cold++}`);
      return tool === ours
        ? [process.execPath, cliPath, ...c.kindwatch, "--cache-dir", dir]
        : [kubectl, ...c.kubectl, "--cache-dir", dir];
    };
    const round = async (counted: boolean, first: string) => {
      for (const c of cases) {
        for (const warm of [true, false]) {
          const tools = first === ours ? [ours, peer] : [peer, ours];
          for (const tool of tools) {
            const sample = await measure(command(tool, c, warm), env, c.untilFirstLine ?? false);
            if (!counted) continue;
            const key = `${c.name}|${warm ? "warm" : "cold"}|${tool}`;
            samples.set(key, [...(samples.get(key) ?? []), sample]);
          }
        }
      }
    };
    log("warm-up (fills the warm caches)");
    await round(false, ours);
    for (let run = 0; run < runs; run++) {
      log(`round ${run + 1}/${runs}`);
      await round(true, run % 2 === 0 ? ours : peer);
    }

    const results: Results = { [ours]: {}, [peer]: {} };
    const rows: string[][] = [
      ["command", "cache", "tool", "wall s", "min..max", "CPU s", "min..max", "peak RSS MiB", "min..max"],
    ];
    for (const c of cases) {
      for (const mode of ["warm", "cold"]) {
        const medians: Record<string, Record<string, number>> = {};
        for (const tool of [ours, peer]) {
          const list = samples.get(`${c.name}|${mode}|${tool}`) ?? [];
          const cells: string[] = [c.name, mode, tool];
          medians[tool] = {};
          for (const m of metrics) {
            const vs = list.map((s) => s[m]);
            const mid = median(vs);
            const { min, max } = range(vs);
            const show = m === "peak_rss_bytes" ? mib : (v: number) => v.toFixed(3);
            cells.push(show(mid), `${show(min)}..${show(max)}`);
            const slug = `${c.name.replace(/[^a-z]+/gi, "_").replace(/^_|_$/g, "")}_${mode}_${m}`;
            const bucket = results[tool] as Record<string, number>;
            bucket[slug] = m === "peak_rss_bytes" ? Math.round(mid) : Number(mid.toFixed(4));
            (medians[tool] as Record<string, number>)[m] = mid;
          }
          rows.push(cells);
        }
        const ratioRow = [c.name, mode, `${ours}/${peer}`];
        for (const m of metrics) {
          const r = (medians[ours]?.[m] ?? 0) / (medians[peer]?.[m] ?? 1);
          ratioRow.push(`${r.toFixed(2)}x`, "");
        }
        rows.push(ratioRow);
      }
    }
    const ratio = ratios(results, ours);
    output = [
      `cli: kindwatch and kubectl as whole processes, ${configmaps} configmaps in one namespace`,
      ...machineLines(machine),
      `peer:       kubectl ${await kubectlVersion(kubectl)}`,
      `method:     median of ${runs} rounds after 1 warm-up round; each round runs every command of both tools, warm`,
      "            (a cache directory filled by earlier runs) then cold (an empty one), the tool going first",
      "            alternating; wall: from spawn to exit (watch: to its first line of output, then SIGTERM); CPU",
      `            (user+system) and peak RSS from ${gnuTime}; kindwatch is \`node dist/src/cli/kindwatch.js\` (the bin);`,
      "            both run without the machine's NODE_EXTRA_CA_CERTS (Node 20 would parse it at every start)",
      "",
      table(rows),
      "",
      `wall ratios (kindwatch/kubectl): ${Object.entries(ratio)
        .filter(([k]) => k.includes("_wall_s/"))
        .map(([k, v]) => `${k.replace("_wall_s/kubectl", "")} ${v.toFixed(2)}x`)
        .join(", ")}`,
      resultLine("cli", results, ours),
    ];
  } finally {
    await finish(cluster, transport, { crds: [], namespace });
    await rm(scratch, { recursive: true, force: true });
  }
  console.log(output.join("\n"));
}

async function kubectlVersion(kubectl: string): Promise<string> {
  const child = spawn(kubectl, ["version", "--client", "-o", "json"], { stdio: ["ignore", "pipe", "ignore"] });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await new Promise((resolve) => child.on("close", resolve));
  try {
    const parsed = JSON.parse(out) as { clientVersion?: { gitVersion?: string } };
    return parsed.clientVersion?.gitVersion ?? "unknown";
  } catch {
    return "unknown";
  }
}
