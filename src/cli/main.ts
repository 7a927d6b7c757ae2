#!/usr/bin/env node
/**
 * The `kindwatch` executable: runs the command line, turns SIGINT and SIGTERM into a clean stop (the watch ends, the
 * checkpoint is saved, connections close), and exits with the documented code (see exit.ts).
 */
import { setMaxListeners } from "node:events";
import { exitInterrupted, exitOk, exitTerminated } from "./exit.js";
import { run } from "./run.js";

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
