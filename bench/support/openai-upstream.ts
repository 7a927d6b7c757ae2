/**
 * The gateway benchmark's model server, run as its own process (`node openai-upstream.js --chunks K --gap-ms G`): an
 * OpenAI-compatible peer over node:http that does as little as it can, so that what the benchmark measures is the path
 * in front of it. A chat completion with `"stream": true` gets an SSE stream of K chunks, the first written with the
 * head and the others G ms apart, then `data: [DONE]`; any other POST gets the same small JSON completion. It reads the
 * request body (to see `stream`) but does not parse it. It prints `{"url": ..., "pid": ...}` once it listens, and stops on SIGTERM. nginx serves
 * `completionBody` too, as a static answer (bench/support/nginx.ts).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** The non-streamed answer: a chat completion as OpenAI shapes it, with usage. */
export const completionBody = JSON.stringify({
  id: "chatcmpl-bench",
  object: "chat.completion",
  created: 1_700_000_000,
  model: "bench-model",
  choices: [{ index: 0, message: { role: "assistant", content: "Hello from the bench." }, finish_reason: "stop" }],
  usage: { prompt_tokens: 9, completion_tokens: 5, total_tokens: 14 },
});

function chunk(i: number): string {
  const data = {
    id: "chatcmpl-bench",
    object: "chat.completion.chunk",
    created: 1_700_000_000,
    model: "bench-model",
    choices: [{ index: 0, delta: { content: `token${i} ` }, finish_reason: null }],
  };
  return `data: ${JSON.stringify(data)}\n\n`;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      chunks: { type: "string", default: "16" },
      "gap-ms": { type: "string", default: "5" },
      port: { type: "string", default: "0" },
    },
  });
  const chunks = Number(values.chunks);
  const gapMs = Number(values["gap-ms"]);
  const body = Buffer.from(completionBody);
  const streamMark = /"stream"\s*:\s*true/;
  const server = createServer({ keepAliveTimeout: 300_000 }, (req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (d: Buffer) => parts.push(d));
    req.on("end", () => {
      if (!streamMark.test(Buffer.concat(parts).toString("latin1"))) {
        res.writeHead(200, { "content-type": "application/json", "content-length": body.length });
        res.end(body);
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      let sent = 0;
      const next = () => {
        if (res.destroyed) return;
        res.write(chunk(sent++));
        if (sent < chunks) setTimeout(next, gapMs);
        else res.end("data: [DONE]\n\n");
      };
      next();
    });
  });
  server.listen(Number(values.port), "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: process.pid })}\n`);
  });
  process.on("SIGTERM", () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
