/**
 * Child processes of the test cluster, and the guarantee that none outlives the Node.js process that started it:
 * on normal exit, on an uncaught error, and on SIGINT, SIGTERM or SIGHUP.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, rmSync, type WriteStream } from "node:fs";

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
const cleanups = new Set<() => void>();
let hooked = false;

function killAllNow(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
  for (const fn of cleanups) fn();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  // Hand the signal back to whatever else listens, or to the default action (exit) when nothing does.
  process.removeListener(signal, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", killAllNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onSignal);
}

/** Removes `dir` when the process exits, unless {@link releaseTempDir} is called first. */
export function removeOnExit(dir: string): void {
  hook();
  tempDirs.add(dir);
}

/** Forgets a folder registered with {@link removeOnExit}. */
export function releaseTempDir(dir: string): void {
  tempDirs.delete(dir);
}

/** Runs `fn` (synchronously) when the process exits or is signalled; returns a function that unregisters it. */
export function onExit(fn: () => void): () => void {
  hook();
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}

/** A started child process whose output goes to a log file, and whose exit can be awaited. */
export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly #log: WriteStream;
  #tail = "";

  constructor(name: string, command: string, args: readonly string[], logFile: string, env?: NodeJS.ProcessEnv) {
    hook();
    this.name = name;
    this.#log = createWriteStream(logFile, { flags: "a" });
    this.child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
    live.add(this.child);
    const onData = (chunk: Buffer) => {
      this.#log.write(chunk);
      this.#tail = (this.#tail + chunk.toString()).slice(-3000);
    };
    this.child.stdout?.on("data", onData);
    this.child.stderr?.on("data", onData);
    this.exited = new Promise((resolve) => {
      this.child.once("error", (err) => {
        this.#tail += `\n${err.message}`;
        live.delete(this.child);
        resolve(null);
      });
      this.child.once("close", (code) => {
        live.delete(this.child);
        this.#log.end();
        resolve(code);
      });
    });
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && live.has(this.child);
  }

  /** The last few kilobytes of its output, for error messages. */
  get tail(): string {
    return this.#tail;
  }

  /** Sends `signal`, and SIGKILL after `graceMs` if it has not exited by then; resolves once it has exited. */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 10_000): Promise<void> {
    if (!this.running) {
      await this.exited;
      return;
    }
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
