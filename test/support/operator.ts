/**
 * The AI-model operator on a test cluster: its CRDs applied from `deploy/crds/`, as users apply them, and
 * `kindwatch operator` run as its own process with the args the Helm chart gives it.
 */
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { applyManifest, type DynamicClient, type KindMapper } from "../../src/client/index.js";
import type { KubeObject } from "../../src/object/types.js";
import { CliProcess } from "./cli.js";
import { call } from "./gateway.js";
import { waitFor } from "./wait.js";

/** `deploy/crds/` of the repository (tests run from `dist/test/`). */
export const operatorCrdsDir = fileURLToPath(new URL("../../../deploy/crds/", import.meta.url));

/** Applies every CRD of `deploy/crds/` (server-side, idempotent) and waits until each is Established and served. */
export async function installOperatorCrds(client: DynamicClient, mapper: KindMapper): Promise<void> {
  const files = (await readdir(operatorCrdsDir)).filter((f) => f.endsWith(".yaml")).sort();
  const text = (await Promise.all(files.map((f) => readFile(`${operatorCrdsDir}${f}`, "utf8")))).join("\n---\n");
  await applyManifest(client, mapper, text, { fieldManager: "kindwatch-tests", force: true });
}

/** The container args the chart gives the operator: those of its Deployment `*-operator`, the command word included. */
export function chartOperatorArgs(objects: readonly KubeObject[]): string[] {
  const deployment = objects.find((o) => o.kind === "Deployment" && o.metadata.name?.endsWith("-operator"));
  const containers = (deployment as { spec?: { template?: { spec?: { containers?: { args?: string[] }[] } } } })?.spec
    ?.template?.spec?.containers;
  const args = containers?.[0]?.args;
  if (!args) throw new Error("the chart renders no operator Deployment with args");
  return [...args];
}

/** `args` with the value after each flag of `values` replaced (each flag must be there). */
export function withFlagValues(args: readonly string[], values: Readonly<Record<string, string>>): string[] {
  const out = [...args];
  for (const [flag, value] of Object.entries(values)) {
    const i = out.indexOf(flag);
    if (i < 0 || i + 1 >= out.length) throw new Error(`no ${flag} VALUE in ${out.join(" ")}`);
    out[i + 1] = value;
  }
  return out;
}

/** One JSON log line of the operator. */
export interface OperatorLogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly identity?: string;
  readonly name?: string;
  readonly [field: string]: unknown;
}

/**
 * `kindwatch operator` as its own process, as the chart runs it: started with the chart's args, ready once it says
 * where its probes are and `/healthz` answers. With `--leader-elect`, its identity is known once it acquired the Lease.
 */
export class OperatorProcess {
  readonly cli: CliProcess;
  /** Where `/metrics`, `/healthz` and `/readyz` are served. */
  readonly metricsUrl: string;

  private constructor(cli: CliProcess, metricsUrl: string) {
    this.cli = cli;
    this.metricsUrl = metricsUrl;
  }

  /** Runs `kindwatch ARGS...` (args start with `operator`) with `kubeconfig`, and waits until it serves its probes. */
  static async start(args: readonly string[], kubeconfig: string): Promise<OperatorProcess> {
    const cli = new CliProcess(args, { kubeconfig, timeoutMs: 10 * 60_000 });
    const found = await cli.until("the operator to start", (p) =>
      /metrics and probes on (http:\/\/\S+)/.exec(p.stderr),
    );
    const operator = new OperatorProcess(cli, found[1] as string);
    await waitFor("the operator's /healthz", async () => (await call(`${operator.metricsUrl}/healthz`)).status === 200);
    return operator;
  }

  /** Its JSON log lines so far (other lines, such as the start notice, left out). */
  logs(): OperatorLogLine[] {
    const lines: OperatorLogLine[] = [];
    for (const line of this.cli.stderr.split("\n")) {
      if (!line.startsWith("{")) continue;
      try {
        lines.push(JSON.parse(line) as OperatorLogLine);
      } catch {
        // A line still being written.
      }
    }
    return lines;
  }

  /** The Lease identity it acquired with; undefined until it led. */
  identity(): string | undefined {
    return this.logs().find((l) => l.msg === "leader election: acquired the lease")?.identity;
  }

  /** Whether it is running. */
  get running(): boolean {
    return this.cli.child.exitCode === null && this.cli.child.signalCode === null;
  }

  /** Sends `signal` (SIGKILL: no drain, no release of the Lease) and waits for the exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.running) await this.cli.stop(signal);
  }
}
