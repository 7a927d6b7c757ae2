/** Reading request bodies under a cap. */
import type { IncomingMessage } from "node:http";

/**
 * Reads `req`'s body whole, or resolves `undefined` as soon as it is over `max` bytes. The rest of an oversized body is
 * read and dropped rather than the request destroyed: destroying it would take the socket, and the answer, with it.
 */
export function readCapped(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) {
        chunks.push(chunk);
        return;
      }
      cleanup();
      req.resume();
      resolve(undefined);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      if (!req.complete) onError(new Error("the client went away before the end of the body"));
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}
