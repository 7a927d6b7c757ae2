/**
 * The file sink: structured CloudEvents as JSON, one a line (NDJSON), appended to a file (written and fsynced before a
 * batch counts as acknowledged) or written to stdout.
 */
import { type FileHandle, open } from "node:fs/promises";
import type { Writable } from "node:stream";
import { type Delivery, type Sink, SinkError } from "./types.js";

/** Where a {@link FileSink} writes. */
export interface FileSinkOptions {
  /** A file to append to, or `-` for standard output. */
  readonly path: string;
  /** What `-` writes to; default `process.stdout`. */
  readonly stdout?: Writable | undefined;
  /** Deliveries per write; default 500. */
  readonly maxBatch?: number | undefined;
}

/** Errors that opening or writing again will not cure. */
const permanent = new Set(["ENOENT", "EACCES", "EPERM", "EISDIR", "ENOTDIR", "EROFS", "EBADF", "EPIPE"]);

function sinkError(what: string, err: unknown): SinkError {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  return new SinkError(`${what}: ${(err as Error).message}`, { retryable: !permanent.has(code), cause: err });
}

/** NDJSON to a file or stdout; see {@link FileSinkOptions}. */
export class FileSink implements Sink {
  readonly name: string;
  readonly maxBatch: number;
  readonly #path: string;
  readonly #stdout: Writable | undefined;
  #file: FileHandle | undefined;
  /** Sends one after another: a batch's lines are never interleaved with another's. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: FileSinkOptions) {
    this.#path = options.path;
    this.#stdout = options.path === "-" ? (options.stdout ?? process.stdout) : undefined;
    this.name = options.path === "-" ? "file stdout" : `file ${options.path}`;
    this.maxBatch = options.maxBatch ?? 500;
  }

  send(batch: readonly Delivery[], signal: AbortSignal): Promise<void> {
    const run = this.#queue.catch(() => {}).then(() => this.#send(batch, signal));
    this.#queue = run;
    return run;
  }

  async #send(batch: readonly Delivery[], signal: AbortSignal): Promise<void> {
    if (this.#closed) throw new SinkError(`${this.name} is closed`, { retryable: false });
    signal.throwIfAborted();
    const text = batch.map((d) => `${JSON.stringify(d.event)}\n`).join("");
    if (this.#stdout) {
      await this.#write(this.#stdout, text);
      return;
    }
    const file = await this.#open();
    try {
      await file.write(text);
      await file.sync();
    } catch (err) {
      // The next attempt reopens: a handle that failed once may be unusable.
      this.#file = undefined;
      await file.close().catch(() => {});
      throw sinkError(`cannot write ${this.#path}`, err);
    }
  }

  async #open(): Promise<FileHandle> {
    if (this.#file) return this.#file;
    let file: FileHandle;
    try {
      file = await open(this.#path, "a+");
    } catch (err) {
      throw sinkError(`cannot open ${this.#path}`, err);
    }
    try {
      // A process killed mid-write leaves half a line: the next line must not be glued to it.
      const { size } = await file.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await file.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) await file.write("\n");
      }
    } catch (err) {
      await file.close().catch(() => {});
      throw sinkError(`cannot write ${this.#path}`, err);
    }
    this.#file = file;
    return file;
  }

  #write(out: Writable, text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      out.write(text, (err) => (err ? reject(sinkError("cannot write to stdout", err)) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#queue.catch(() => {});
    await this.#file?.close().catch(() => {});
    this.#file = undefined;
  }
}
