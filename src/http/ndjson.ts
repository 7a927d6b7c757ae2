/** Newline-delimited JSON, the framing of the API server's JSON watch streams. */
import { ApiError } from "./errors.js";

const newline = 0x0a;

/** The line's value, or the error to raise (returned: the values read before it go out first). */
function parse(text: string, request: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    return new ApiError({
      kind: "Unknown",
      status: 0,
      message: `${request ? `${request}: ` : ""}the stream sent a line that is not JSON: ${text.slice(0, 100)}`,
      request,
      cause: err,
    });
  }
}

function blank(bytes: Buffer, from = 0, to = bytes.length): boolean {
  for (let i = from; i < to; i++) if ((bytes[i] as number) > 0x20) return false;
  return true;
}

/**
 * Splits a byte stream into lines of JSON, chunk by chunk as they arrive, and parses the complete ones. Blank lines are
 * skipped. Synchronous, so that a reader can turn a whole network read into values in one pass.
 */
export class JsonLineSplitter {
  readonly #request: string;
  /** The start of a line that a chunk border cut. */
  #pending: Buffer[] = [];

  /** `request` names the stream in error messages. */
  constructor(request = "") {
    this.#request = request;
  }

  /**
   * Parses the lines that `chunk` completes into `into`. A line that is not JSON is returned as an `Unknown`
   * {@link ApiError} after the values before it are in `into`: the stream is broken from there on.
   */
  push(chunk: Buffer, into: unknown[]): ApiError | undefined {
    // Split bytes, not text: a newline byte never occurs inside a multi-byte UTF-8 character, but a chunk may end in one.
    let start = 0;
    for (let at = chunk.indexOf(newline); at >= 0; at = chunk.indexOf(newline, start)) {
      let text: string;
      if (this.#pending.length === 0) {
        const from = start;
        start = at + 1;
        if (blank(chunk, from, at)) continue;
        text = chunk.toString("utf8", from, at);
      } else {
        this.#pending.push(chunk.subarray(start, at));
        const line = Buffer.concat(this.#pending);
        this.#pending = [];
        start = at + 1;
        if (blank(line)) continue;
        text = line.toString("utf8");
      }
      const value = parse(text, this.#request);
      if (value instanceof ApiError) return value;
      into.push(value);
    }
    if (start < chunk.length) this.#pending.push(chunk.subarray(start));
    return undefined;
  }

  /**
   * The stream has ended: a last line without its newline is parsed into `into` if it is whole; a cut one is a
   * `Network` {@link ApiError}, returned: the stream ended in the middle of an event.
   */
  end(into: unknown[]): ApiError | undefined {
    const rest = Buffer.concat(this.#pending);
    this.#pending = [];
    if (blank(rest)) return undefined;
    try {
      into.push(JSON.parse(rest.toString("utf8")));
      return undefined;
    } catch {
      const request = this.#request;
      return new ApiError({
        kind: "Network",
        status: 0,
        message: `${request ? `${request}: ` : ""}the stream ended in the middle of a line (${rest.length} bytes)`,
        request,
      });
    }
  }
}

/**
 * Parses a byte stream as one JSON value a line, as they arrive, yielding the complete lines of each chunk read
 * together (never an empty batch). Errors as {@link JsonLineSplitter}'s, thrown after the values before them.
 */
export async function* jsonLineBatches(
  body: AsyncIterable<Buffer>,
  request = "",
): AsyncGenerator<unknown[], void, undefined> {
  const splitter = new JsonLineSplitter(request);
  for await (const chunk of body) {
    const batch: unknown[] = [];
    const failure = splitter.push(chunk, batch);
    if (batch.length > 0) yield batch;
    if (failure) throw failure;
  }
  const last: unknown[] = [];
  const failure = splitter.end(last);
  if (failure) throw failure;
  if (last.length > 0) yield last;
}

/** {@link jsonLineBatches} one value at a time. */
export async function* jsonLines(body: AsyncIterable<Buffer>, request = ""): AsyncGenerator<unknown, void, undefined> {
  for await (const batch of jsonLineBatches(body, request)) yield* batch;
}
