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

const quote = 0x22;
const backslash = 0x5c;
const colon = 0x3a;
const comma = 0x2c;
const openBrace = 0x7b;
const closeBrace = 0x7d;
const openBracket = 0x5b;
const closeBracket = 0x5d;
const managedFieldsKey = Buffer.from('"managedFields":');
const objectKey = Buffer.from("object");
const metadataKey = Buffer.from("metadata");

/** Where the string that starts at `bytes[at]` (a quote) ends: the index of its closing quote, or -1. */
function stringEnd(bytes: Buffer, at: number, to: number): number {
  for (let i = at + 1; i < to; i++) {
    const b = bytes[i] as number;
    if (b === backslash) i++;
    else if (b === quote) return i;
  }
  return -1;
}

function sameBytes(bytes: Buffer, from: number, to: number, word: Buffer): boolean {
  return to - from === word.length && bytes.compare(word, 0, word.length, from, to) === 0;
}

/**
 * The bytes of a watch event line's `object.metadata.managedFields` member, its separating comma included, as
 * [start, end); undefined when the line has none there. A key of that name elsewhere (in a spec, or a top-level field
 * sorted before `metadata`) is left alone: the path to it is checked, string by string, up to it.
 */
export function managedFieldsRange(bytes: Buffer, from: number, to: number): [number, number] | undefined {
  const at = bytes.indexOf(managedFieldsKey, from);
  if (at < 0 || at >= to) return undefined;
  // The path to `at` must be { "object": { "metadata": { here.
  let depth = 0;
  let objectKeyAt = -1;
  let metadataKeyAt = -1;
  for (let i = from; i < at; i++) {
    const b = bytes[i] as number;
    if (b === quote) {
      const end = stringEnd(bytes, i, at);
      if (end < 0) return undefined;
      if (bytes[end + 1] === colon) {
        if (depth === 1) objectKeyAt = sameBytes(bytes, i + 1, end, objectKey) ? i : -1;
        else if (depth === 2) metadataKeyAt = sameBytes(bytes, i + 1, end, metadataKey) ? i : -1;
      }
      i = end;
    } else if (b === openBrace || b === openBracket) depth++;
    else if (b === closeBrace || b === closeBracket) depth--;
  }
  if (depth !== 3 || objectKeyAt < 0 || metadataKeyAt < 0) return undefined;
  const open = at + managedFieldsKey.length;
  if (bytes[open] !== openBracket) return undefined;
  let end = -1;
  depth = 0;
  for (let i = open; i < to; i++) {
    const b = bytes[i] as number;
    if (b === quote) {
      i = stringEnd(bytes, i, to);
      if (i < 0) return undefined;
    } else if (b === openBrace || b === openBracket) depth++;
    else if (b === closeBrace || b === closeBracket) {
      depth--;
      if (depth === 0) {
        end = i + 1;
        break;
      }
    }
  }
  if (end < 0) return undefined;
  if (bytes[end] === comma) return [at, end + 1];
  return bytes[at - 1] === comma ? [at - 1, end] : [at, end];
}

/** Options of a {@link JsonLineSplitter}. */
export interface SplitterOptions {
  /** Leave each watch event's `object.metadata.managedFields` out, cut from the bytes before they are parsed. */
  readonly dropManagedFields?: boolean | undefined;
}

/**
 * Splits a byte stream into lines of JSON, chunk by chunk as they arrive, and parses the complete ones. Blank lines are
 * skipped. Synchronous, so that a reader can turn a whole network read into values in one pass.
 */
export class JsonLineSplitter {
  readonly #request: string;
  readonly #dropManagedFields: boolean;
  /** The start of a line that a chunk border cut. */
  #pending: Buffer[] = [];

  /** `request` names the stream in error messages. */
  constructor(request = "", options: SplitterOptions = {}) {
    this.#request = request;
    this.#dropManagedFields = options.dropManagedFields === true;
  }

  /** The text of the line in `bytes[from, to)`, its managedFields cut when asked. */
  #text(bytes: Buffer, from: number, to: number): string {
    const cut = this.#dropManagedFields ? managedFieldsRange(bytes, from, to) : undefined;
    if (!cut) return bytes.toString("utf8", from, to);
    // The cut falls on ASCII bytes: no character is split.
    return bytes.toString("utf8", from, cut[0]) + bytes.toString("utf8", cut[1], to);
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
        text = this.#text(chunk, from, at);
      } else {
        this.#pending.push(chunk.subarray(start, at));
        const line = Buffer.concat(this.#pending);
        this.#pending = [];
        start = at + 1;
        if (blank(line)) continue;
        text = this.#text(line, 0, line.length);
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
      into.push(JSON.parse(this.#text(rest, 0, rest.length)));
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
