/** Writing to stdout and stderr with backpressure: a slow reader slows the writer instead of filling memory. */
import { once } from "node:events";

/** A stream the CLI writes to: process.stdout or stderr, or a test's stand-in. */
export interface OutStream extends NodeJS.WritableStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Writes text to a stream, waiting while its buffer is full; gives up waiting once `signal` fires. */
export class Output {
  readonly stream: OutStream;
  readonly #signal: AbortSignal;

  constructor(stream: OutStream, signal: AbortSignal) {
    this.stream = stream;
    this.#signal = signal;
  }

  /** Whether the stream is a terminal. */
  get isTTY(): boolean {
    return this.stream.isTTY === true;
  }

  /** The terminal's width, or `fallback` when it is not a terminal. */
  width(fallback: number): number {
    return this.isTTY && this.stream.columns ? this.stream.columns : fallback;
  }

  /** Writes `text`; resolves once the stream can take more. */
  async write(text: string): Promise<void> {
    if (this.#signal.aborted || this.stream.write(text)) return;
    try {
      await once(this.stream, "drain", { signal: this.#signal });
    } catch {
      // Aborted: the reader is gone or the user asked to stop; nothing more will be written.
    }
  }

  /** Writes `lines`, each ended by a newline. */
  async lines(lines: readonly string[]): Promise<void> {
    if (lines.length > 0) await this.write(`${lines.join("\n")}\n`);
  }
}

/** A copy of `value` with every object's keys in order, as kubectl prints objects (Go writes maps sorted). */
export function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, sortedKeys(v)]));
}

/** `value` as kubectl prints JSON: indented by four spaces, with a final newline. */
export function prettyJson(value: unknown): string {
  return `${JSON.stringify(value, null, 4)}\n`;
}

/** The printer of values as YAML documents, loaded on first use: only `-o yaml` needs the YAML library. */
export async function yamlPrinter(): Promise<(value: unknown) => string> {
  return (await import("./yaml-output.js")).yamlDocument;
}
