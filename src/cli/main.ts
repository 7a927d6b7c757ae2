#!/usr/bin/env node
/**
 * The `kindwatch` executable: runs the command line, turns SIGINT and SIGTERM into a clean stop (the watch ends, the
 * checkpoint is saved, connections close), and exits with the documented code (see exit.ts).
 */
import { setMaxListeners } from "node:events";
import module from "node:module";
import { setFlagsFromString } from "node:v8";

// Before anything else is loaded, so that every module after this one comes from the cache (Node >= 22.1; Node 20
// has no compile cache, and then this does nothing).
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
// undici parses HTTP/1.1 with llhttp compiled to WebAssembly. Its parse function is one huge state machine, which V8
// soon finds hot and recompiles with its optimizing compiler: ~0.2 s of CPU and ~35 MB of memory in a command that
// lasts a second. The baseline code V8 compiles first is fast enough for what a command line reads.
// The gateway and the operator are no short commands: they parse answers for as long as they run, where the optimized
// parser pays.
if (!process.argv.slice(2).some((a) => a === "gateway" || a === "operator")) setFlagsFromString("--liftoff-only");

const [{ exitInterrupted, exitOk, exitTerminated }, { run }] = await Promise.all([
  import("./exit.js"),
  import("./run.js"),
]);

/** How long a clean stop may take after a signal before the process exits anyway. */
const stopGraceMs = 5000;

// The watch-all engine's informers, one per kind (hundreds with --all-resources), all wait on its one stop signal:
// many listeners there are the design, not a leak, and Node's warning about them would only alarm the user.
setMaxListeners(0);

const controller = new AbortController();
let exitCode: number | undefined;

function stop(code: number, reason: string): void {
  if (controller.signal.aborted) {
    // A second Ctrl-C: the user does not want to wait for the clean stop.
    if (code !== exitOk) process.exit(code);
    return;
  }
  exitCode = code;
  controller.abort(new Error(reason));
  setTimeout(() => process.exit(code), stopGraceMs).unref();
}

process.on("SIGINT", () => stop(exitInterrupted, "interrupted"));
process.on("SIGTERM", () => stop(exitTerminated, "terminated"));
// The reader went away (`kindwatch watch | head`): stop as if done.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") stop(exitOk, "stdout closed");
});

const code = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
});
process.exitCode = exitCode ?? code;
// Anything left holding the event loop (a socket closing slowly) must not keep a finished command alive.
setTimeout(() => process.exit(), stopGraceMs).unref();
