/**
 * Runs one measurement in a child process of its own, so that what it costs (peak RSS above all) is its own and not
 * the harness's or another implementation's.
 */
import { type ChildProcess, spawn } from "node:child_process";

/** The Node.js options of `BENCH_NODE_ARGS` (space-separated), given to every Node.js child: to profile it. */
function extraNodeArgs(): string[] {
  return (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
}

/**
 * Runs `node ...nodeArgs script ...args`; resolves with the JSON object the child printed as its last stdout line.
 * `nodeArgs` are Node.js's own flags (`--expose-gc`).
 */
export function runChild(
  script: string,
  args: readonly string[],
  timeoutMs: number,
  nodeArgs: readonly string[] = [],
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...extraNodeArgs(), ...nodeArgs, script, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const what = `${script} ${args.join(" ")}`;
      if (code !== 0) {
        const why = signal === "SIGKILL" ? `was killed after ${timeoutMs} ms` : `exited with ${code ?? signal}`;
        return reject(new Error(`${what} ${why}:\n${stderr.trim()}`));
      }
      const last = stdout.trim().split("\n").at(-1) ?? "";
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${what} printed no JSON result as its last line:\n${stdout}${stderr}`));
      }
    });
  });
}

/**
 * A child measured in phases: it prints a JSON line as it finishes each phase and is told on stdin when to go on.
 * Lines on its stdout that are not JSON objects (a library's stray log line) are kept for error messages only.
 */
export class ChildSession {
  readonly #child: ChildProcess;
  readonly #what: string;
  readonly #results: Record<string, unknown>[] = [];
  readonly #exited: Promise<void>;
  #wake: (() => void) | undefined;
  #output = "";
  #failure: Error | undefined;

  /**
   * Starts `command ...args`. A Node.js child also takes the options in `BENCH_NODE_ARGS` (space-separated), to
   * profile what is measured: `BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` (Node refuses `--cpu-prof` in
   * NODE_OPTIONS). Profiling slows a child: a profiled run's figures are not results.
   */
  constructor(command: string, args: readonly string[]) {
    const extra = command === process.execPath ? extraNodeArgs() : [];
    this.#what = `${command} ${[...extra, ...args].join(" ")}`;
    this.#child = spawn(command, [...extra, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let partial = "";
    this.#child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      const lines = (partial + d).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) this.#take(line);
    });
    this.#child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      this.#output = (this.#output + d).slice(-8000);
    });
    // A child that dies early leaves stdin closed; the error surfaces through the exit, not as an EPIPE crash.
    this.#child.stdin?.on("error", () => {});
    this.#exited = new Promise<void>((resolve) => {
      this.#child.on("error", (err) => {
        this.#failure ??= err;
        resolve();
      });
      this.#child.on("close", (code, signal) => {
        if (code !== 0) this.#failure ??= new Error(`${this.#what} exited with ${code ?? signal}:\n${this.#output}`);
        resolve();
      });
    }).finally(() => this.#wake?.());
  }

  #take(line: string): void {
    try {
      const value: unknown = JSON.parse(line);
      if (typeof value === "object" && value !== null && !Array.isArray(value)) {
        this.#results.push(value as Record<string, unknown>);
        this.#wake?.();
        return;
      }
    } catch {
      // not a result line
    }
    this.#output = `${this.#output}${line}\n`.slice(-8000);
  }

  /** The next JSON object the child prints; rejects if it exits first or `timeoutMs` passes. */
  async next(timeoutMs: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = this.#results.shift();
      if (result) return result;
      if (this.#child.exitCode !== null || this.#failure) {
        throw this.#failure ?? new Error(`${this.#what} exited without printing a result:\n${this.#output}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.#what} printed no result within ${timeoutMs} ms:\n${this.#output}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** The child's process id (for what is read from /proc/PID). */
  get pid(): number {
    const pid = this.#child.pid;
    if (pid === undefined) throw new Error(`${this.#what} did not start`);
    return pid;
  }

  /** Writes one line to the child's stdin. */
  send(line: string): void {
    this.#child.stdin?.write(`${line}\n`);
  }

  /** Waits for the child to exit by itself (killing it after `timeoutMs`); rejects unless it exited with 0. */
  async end(timeoutMs: number): Promise<void> {
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), timeoutMs);
    await this.#exited;
    clearTimeout(timer);
    if (this.#failure) throw this.#failure;
  }

  /** Ends the child (if it has not ended by itself) and waits for it to go; for cleanups, so it never rejects. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
    await this.#exited;
  }
}
