/** Structured logs: one JSON object per line, written by pino. */
import { pino } from "pino";
import type { Logger, LogLevel } from "../cache/log.js";

/** Options of {@link jsonLogger}. */
export interface JsonLoggerOptions {
  /** The least severe level written; default "info". */
  readonly level?: LogLevel | undefined;
  /**
   * Where lines go: a file descriptor (default 2, stderr), a file path, or a stream. Descriptors and paths are written
   * synchronously, so that no line is lost when the process exits or is killed right after logging.
   */
  readonly destination?:
    | number
    | string
    | {
        /** Writes one line, newline included. */
        write(text: string): unknown;
      }
    | undefined;
}

/**
 * A logger that writes each message as one JSON line through pino:
 * `{"level":"warn","time":1735722307000,"controller":"widgets","name":"w1","reconcileID":"…","msg":"reconcile failed"}`
 * (`time` in epoch ms). Fields are written as given: pass names, never objects that may hold secrets.
 */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  const destination = options.destination ?? 2;
  const stream =
    typeof destination === "object" ? destination : pino.destination({ dest: destination, sync: true, mkdir: true });
  const log = pino(
    {
      level: options.level ?? "info",
      base: null,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream,
  );
  return (level, message, fields) => {
    if (fields) log[level](fields, message);
    else log[level](message);
  };
}
