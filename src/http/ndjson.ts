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
 * Parses a byte stream as one JSON value a line, as they arrive, yielding the complete lines of each chunk read
 * together (never an empty batch): one step per network read rather than per value. Blank lines are skipped. A last
 * line without its newline is parsed if it is whole, else it is a `Network` {@link ApiError}: the stream ended in the
 * middle of an event. A line that is not JSON is an `Unknown` {@link ApiError}, raised after the values before it.
 */
export async function* jsonLineBatches(
  body: AsyncIterable<Buffer>,
  request = "",
): AsyncGenerator<unknown[], void, undefined> {
  // Split bytes, not text: a newline byte never occurs inside a multi-byte UTF-8 character, but a chunk may end in one.
  let pending: Buffer[] = [];
  for await (const chunk of body) {
    const batch: unknown[] = [];
    // A line that is not JSON fails the stream, but only after the values read before it.
    let failure: ApiError | undefined;
    let start = 0;
    for (let at = chunk.indexOf(newline); at >= 0; at = chunk.indexOf(newline, start)) {
      let text: string;
      if (pending.length === 0) {
        const from = start;
        start = at + 1;
        if (blank(chunk, from, at)) continue;
        text = chunk.toString("utf8", from, at);
      } else {
        pending.push(chunk.subarray(start, at));
        const line = Buffer.concat(pending);
        pending = [];
        start = at + 1;
        if (blank(line)) continue;
        text = line.toString("utf8");
      }
      const value = parse(text, request);
      if (value instanceof ApiError) {
        failure = value;
        break;
      }
      batch.push(value);
    }
    if (batch.length > 0) yield batch;
    if (failure !== undefined) throw failure;
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  const rest = Buffer.concat(pending);
  if (blank(rest)) return;
  let last: unknown;
  try {
    last = JSON.parse(rest.toString("utf8"));
  } catch {
    throw new ApiError({
      kind: "Network",
      status: 0,
      message: `${request ? `${request}: ` : ""}the stream ended in the middle of a line (${rest.length} bytes)`,
      request,
    });
  }
  yield [last];
}

/** {@link jsonLineBatches} one value at a time. */
export async function* jsonLines(body: AsyncIterable<Buffer>, request = ""): AsyncGenerator<unknown, void, undefined> {
  for await (const batch of jsonLineBatches(body, request)) yield* batch;
}
