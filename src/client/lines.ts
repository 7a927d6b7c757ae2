/** Newline-delimited JSON, as the API server frames watch events, split from a byte stream without copying twice. */
import { ApiError } from "../http/errors.js";

/** Yields each line of `chunks` (without its newline); a trailing partial line means the stream was cut mid-event. */
export async function* lines(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  for await (const chunk of chunks) {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      const line = pending.length > 0 ? Buffer.concat([...pending, piece]) : piece;
      pending = [];
      start = nl + 1;
      if (line.length > 0) yield line;
    }
    if (start < chunk.length) pending.push(chunk.subarray(start));
  }
  if (pending.some((p) => p.toString("latin1").trim().length > 0)) {
    throw new ApiError({ kind: "Network", status: 0, message: "the stream ended in the middle of an event" });
  }
}

/** Parses one line as JSON; a line that is not JSON is a protocol error worth a clear message, not a SyntaxError. */
export function parseLine(line: Buffer): unknown {
  try {
    return JSON.parse(line.toString("utf8"));
  } catch {
    const start = line.subarray(0, 80).toString("utf8");
    throw new ApiError({ kind: "Unknown", status: 0, message: `the server sent a line that is not JSON: ${start}` });
  }
}
