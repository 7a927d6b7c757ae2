/** What a benchmark ran on, for the header of its table: results mean little without the machine. */
import { execFileSync } from "node:child_process";
import { cpus, totalmem } from "node:os";
import type { Transport } from "../../src/http/transport.js";

/** The machine and the server a benchmark measured. */
export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly memoryBytes: number;
  readonly node: string;
  readonly go: string;
  readonly kubernetes: string;
}

function goVersion(): string {
  try {
    const out = execFileSync("go", ["version"], { encoding: "utf8", timeout: 10_000 });
    return /go version (\S+)/.exec(out)?.[1] ?? out.trim();
  } catch {
    return "not installed";
  }
}

/** Describes this machine, and the server `transport` talks to (its `/version`). */
export async function describeMachine(transport: Transport): Promise<Machine> {
  const version = (await transport.json({ path: "/version" })) as { gitVersion?: unknown } | undefined;
  return describeHost(typeof version?.gitVersion === "string" ? version.gitVersion : "unknown");
}

/** Describes this machine, for a benchmark that needs no server (`kubernetes` says so). */
export function describeHost(kubernetes: string): Machine {
  const info = cpus();
  return {
    cores: info.length,
    cpu: info[0]?.model.trim() ?? "unknown",
    memoryBytes: totalmem(),
    node: process.version,
    go: goVersion(),
    kubernetes,
  };
}

/** The header lines of a benchmark's table. */
export function machineLines(m: Machine): string[] {
  const gib = (m.memoryBytes / 2 ** 30).toFixed(1);
  return [
    `machine:    ${m.cores} cores (${m.cpu}), ${gib} GiB memory`,
    `software:   Node.js ${m.node}, Go ${m.go}, Kubernetes ${m.kubernetes}`,
  ];
}
