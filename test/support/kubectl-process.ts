/**
 * kubectl as a process whose every outcome a test reads: a run that may fail (its stdout, stderr and exit status, not
 * a rejection), and a long-running one (`get -w`) read while the test acts, then signalled.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { kubectlBinary } from "./kubectl.js";
import { waitFor } from "./wait.js";

let cacheDir: string | undefined;

/** A discovery cache of this process's own, so that no stale cache from another run misleads kubectl. */
function discoveryCacheDir(): string {
  if (!cacheDir) {
    const dir = mkdtempSync(join(tmpdir(), "kindwatch-kubectl-process-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    cacheDir = dir;
  }
  return cacheDir;
}

/** How a kubectl run ended. */
export interface KubectlOutcome {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running kubectl whose output is collected as it comes. */
export class KubectlProcess {
  readonly exited: Promise<KubectlOutcome>;
  stdout = "";
  stderr = "";
  #child: ChildProcessWithoutNullStreams | undefined;
  readonly #started: Promise<void>;

  constructor(kubeconfig: string, args: readonly string[], timeoutMs = 60_000) {
    const env = { ...process.env };
    delete env.KUBECONFIG;
    let resolveExit: (o: KubectlOutcome) => void = () => {};
    this.exited = new Promise((resolve) => {
      resolveExit = resolve;
    });
    this.#started = kubectlBinary().then((path) => {
      const child = spawn(path, ["--kubeconfig", kubeconfig, "--cache-dir", discoveryCacheDir(), ...args], { env });
      this.#child = child;
      child.stdout.on("data", (d: Buffer) => {
        this.stdout += d.toString();
      });
      child.stderr.on("data", (d: Buffer) => {
        this.stderr += d.toString();
      });
      const timeout = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("close", (code, signal) => {
        clearTimeout(timeout);
        resolveExit({ code, signal, stdout: this.stdout, stderr: this.stderr });
      });
      child.stdin.end();
    });
  }

  /** Waits until `check` holds for the output so far; fails with the output when it does not in time. */
  async until(what: string, check: (p: KubectlProcess) => boolean, timeoutMs = 30_000): Promise<void> {
    await this.#started;
    try {
      await waitFor(what, () => check(this) || undefined, { timeoutMs, intervalMs: 20 });
    } catch (err) {
      throw new Error(`kubectl: ${(err as Error).message}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`);
    }
  }

  /** Sends `signal` and resolves with how it ended. */
  async stop(signal: NodeJS.Signals = "SIGINT"): Promise<KubectlOutcome> {
    await this.#started;
    this.#child?.kill(signal);
    return this.exited;
  }
}

/** Runs `kubectl --kubeconfig KUBECONFIG ARGS...` to the end, failed or not. */
export function runKubectl(kubeconfig: string, args: readonly string[]): Promise<KubectlOutcome> {
  return new KubectlProcess(kubeconfig, args).exited;
}
