/**
 * The default logger of informers and the watch-all engine: a failure nobody asked to hear about still reaches stderr,
 * so that a throwing handler or a watch that keeps failing is never silent.
 */

/** How severe a log line is. */
export type LogLevel = "info" | "warn" | "error";

/**
 * Receives log lines. `fields` are plain values (strings, numbers); a failure comes with its message as `error` and,
 * when there is one, its stack as `stack`. Never given secrets.
 */
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;

/** What takes a logger: a function, or "none" for silence; undefined means {@link stderrLogger}'s default. */
export type LoggerOption = Logger | "none";

const ranks: Readonly<Record<LogLevel, number>> = { info: 0, warn: 1, error: 2 };

/** Options of {@link stderrLogger}. */
export interface StderrLoggerOptions {
  /** The least severe level written; default "warn". */
  readonly level?: LogLevel | undefined;
  /** Where lines go; default `process.stderr`. */
  readonly stream?:
    | {
        /** Writes one line, newline included. */
        write(text: string): unknown;
      }
    | undefined;
}

/**
 * A logger that writes one line per message: time, level, message and the fields as JSON, e.g.
 * `2025-01-01T09:05:07.000Z kindwatch error informer handler failed {"source":"configmaps/v1","error":"boom"}`; a
 * `stack` field follows on the next lines instead, as Node prints a stack.
 */
export function stderrLogger(options: StderrLoggerOptions = {}): Logger {
  const least = ranks[options.level ?? "warn"];
  return (level, message, fields = {}) => {
    if (ranks[level] < least) return;
    const { stack, ...rest } = fields;
    const detail = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : "";
    const trace = typeof stack === "string" && stack ? `\n${stack}` : "";
    (options.stream ?? process.stderr).write(
      `${new Date().toISOString()} kindwatch ${level} ${message}${detail}${trace}\n`,
    );
  };
}

/** Shared by everything that was given no logger. */
const defaultLogger = stderrLogger();

/** The logger `option` asks for: the default one when it is undefined, none for "none". */
export function loggerOf(option: LoggerOption | undefined): Logger | undefined {
  if (option === "none") return undefined;
  return option ?? defaultLogger;
}

/** A failure as log fields: its message, and its stack when it has one. */
export function failureFields(err: unknown): { error: string; stack?: string } {
  if (!(err instanceof Error)) return { error: String(err) };
  return typeof err.stack === "string" ? { error: err.message, stack: err.stack } : { error: err.message };
}
