/**
 * Running the built `kindwatch` binary as a child process, the way a user runs it: one-shot commands that are awaited,
 * and long-running ones (`watch`) whose output is read line by line while the test acts, then signalled.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { processTempDir } from "./tempdir.js";
import { type Condition, holds, waitFor } from "./wait.js";

/** The command as users run it (the package's bin), bundled by `npm run build`: dist/src/cli/kindwatch.js. */
export const cliPath = fileURLToPath(new URL("../../src/cli/kindwatch.js", import.meta.url));

/** How a finished run ended. */
export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of a run. */
export interface CliOptions {
  /** Set as KUBECONFIG (the CLI also takes --kubeconfig on its command line). */
  readonly kubeconfig?: string;
  /** More environment; colour variables are cleared unless given here. */
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  /** The script to run instead of the CLI (e.g. the demo). */
  readonly script?: string;
}

function childEnv(opts: CliOptions): NodeJS.ProcessEnv {
  // Discovery cached on disk by the runs of this process only: a cache from another run of the tests, on a cluster that
  // had the same port, would map names to what that cluster served.
  const env: NodeJS.ProcessEnv = { ...process.env, KINDWATCH_KUBE_CACHE_DIR: processTempDir("kindwatch-cli-cache") };
  for (const key of ["KUBECONFIG", "NO_COLOR", "FORCE_COLOR", "TERM"]) delete env[key];
  if (opts.kubeconfig) env.KUBECONFIG = opts.kubeconfig;
  return { ...env, ...opts.env };
}

/** A running `kindwatch` whose output is collected as it comes. */
export class CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = "";
  stderr = "";
  readonly exited: Promise<CliResult>;

  constructor(args: readonly string[], opts: CliOptions = {}) {
    this.child = spawn(process.execPath, [opts.script ?? cliPath, ...args], { env: childEnv(opts) });
    this.child.stdout.on("data", (d: Buffer) => {
      this.stdout += d.toString();
    });
    this.child.stderr.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    const timeout = setTimeout(() => this.child.kill("SIGKILL"), opts.timeoutMs ?? 60_000);
    this.exited = new Promise((resolve) => {
      this.child.on("close", (code, signal) => {
        clearTimeout(timeout);
        resolve({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
    });
  }

  /** The complete lines printed on stdout so far. */
  lines(): string[] {
    return this.stdout.split("\n").slice(0, -1);
  }

  /** stdout's complete lines parsed as JSON (for `-o json`). */
  events(): Record<string, unknown>[] {
    return this.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /**
   * Waits until `check` finds something in the output (see `Condition`); fails with the output so far when it does not,
   * at once when the process exits first.
   */
  async until<T extends object | true>(
    what: string,
    check: (p: CliProcess) => Condition<T>,
    timeoutMs = 20_000,
  ): Promise<T> {
    let exited = false;
    void this.exited.then(() => {
      exited = true;
    });
    let outcome: { found: T } | { exited: true };
    try {
      outcome = await waitFor(
        what,
        () => {
          const found = check(this);
          if (holds(found)) return { found };
          return exited ? { exited: true as const } : undefined;
        },
        { timeoutMs, intervalMs: 20 },
      );
    } catch (err) {
      throw this.#failure((err as Error).message);
    }
    if ("found" in outcome) return outcome.found;
    throw this.#failure(`kindwatch exited ${this.child.exitCode ?? this.child.signalCode} before ${what}`);
  }

  #failure(message: string): Error {
    return new Error(`${message}\nstdout:\n${this.stdout.slice(-3000)}\nstderr:\n${this.stderr}`);
  }

  /** Sends `signal` and resolves with the result and how long the exit took. */
  async stop(signal: NodeJS.Signals = "SIGINT"): Promise<CliResult & { ms: number }> {
    const start = performance.now();
    this.child.kill(signal);
    const result = await this.exited;
    return { ...result, ms: performance.now() - start };
  }
}

/** Runs `kindwatch ARGS...` to the end. */
export function runCli(args: readonly string[], opts: CliOptions = {}): Promise<CliResult> {
  return new CliProcess(args, opts).exited;
}

/** Output of a table as header cells and rows of cells (cells in these tests hold no spaces). */
export function parseTable(text: string): { header: string; rows: string[][] } {
  const [header = "", ...rest] = text.trimEnd().split("\n");
  return { header, rows: rest.map((line) => line.trim().split(/\s+/)) };
}
