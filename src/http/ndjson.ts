/** Newline-delimited JSON, the framing of the API server's JSON watch streams. */
import { ApiError } from "./errors.js";

const newline = 0x0a;

function parse(line: Buffer, request: string): unknown {
  const text = line.toString("utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError({
      kind: "Unknown",
      status: 0,
      message: `${request ? `${request}: ` : ""}the stream sent a line that is not JSON: ${text.slice(0, 100)}`,
      request,
      cause: err,
    });
  }
}

/**
 * Parses a byte stream as one JSON value a line, as they arrive; blank lines are skipped. A last line without its
 * newline is parsed if it is whole, else it is a `Network` {@link ApiError}: the stream ended in the middle of an event.
 */
export async function* jsonLines(body: AsyncIterable<Buffer>, request = ""): AsyncGenerator<unknown, void, undefined> {
  // Split bytes, not text: a newline byte never occurs inside a multi-byte UTF-8 character, but a chunk may end in one.
  let pending: Buffer[] = [];
  for await (const chunk of body) {
    let start = 0;
    for (let at = chunk.indexOf(newline); at >= 0; at = chunk.indexOf(newline, start)) {
      pending.push(chunk.subarray(start, at));
      const line = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending);
      pending = [];
      start = at + 1;
      if (line.some((byte) => byte > 0x20)) yield parse(line, request);
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  const rest = Buffer.concat(pending);
  if (!rest.some((byte) => byte > 0x20)) return;
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
  yield last;
}
