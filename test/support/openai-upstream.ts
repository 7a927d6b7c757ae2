/**
 * A real OpenAI-compatible upstream over node:http for the gateway's tests: `/v1/chat/completions` and
 * `/v1/completions` (after any path prefix), streamed (SSE) and not, with or without `usage`; `/v1/models`; every other path echoes the request
 * as JSON (a plain HTTP service). It records what it got, and fails on demand: refuses connections, answers 5xx, hangs
 * before its first byte, cuts a stream, streams slowly, or holds a stream after its first chunk until released.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** A request as the upstream got it. */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
  /** The body parsed, when it was JSON. */
  readonly json: Record<string, unknown> | undefined;
  /** Set when the client went away before the answer ended. */
  aborted: boolean;
  /** Set when the answer was sent whole. */
  finished: boolean;
}

/** How the next requests fail. */
export type UpstreamFailure =
  /** Answer this status with an OpenAI error body. */
  | { readonly kind: "status"; readonly status: number }
  /** Never answer (the head does not come). */
  | { readonly kind: "hang" }
  /** Answer normally, after `ms`. */
  | { readonly kind: "delay"; readonly ms: number }
  /** Send the head and `afterChunks` SSE chunks, then cut the connection. */
  | { readonly kind: "cut"; readonly afterChunks: number };

/** How answers are made. */
export interface UpstreamBehaviour {
  /** Content chunks of a completion (default 3: "Hello", " from", " NAME"). */
  chunks?: number;
  /** Delay between streamed chunks (default 0). */
  chunkDelayMs?: number;
  /** Whether `usage` is sent (in non-streamed answers always; in streams when asked by stream_options). Default true. */
  usage?: boolean;
}

const encoder = new TextEncoder();

/** The upstream; `name` appears in its answers, to tell upstreams apart. */
export class OpenAIUpstream {
  readonly name: string;
  readonly requests: RecordedRequest[] = [];
  readonly behaviour: UpstreamBehaviour = {};
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;
  #failure: UpstreamFailure | undefined;
  #failuresLeft = Number.POSITIVE_INFINITY;
  #hold: Promise<void> | undefined;
  #hanging = new Set<ServerResponse>();

  private constructor(name: string) {
    this.name = name;
    this.#server = createServer({ noDelay: true }, (req, res) => void this.#serve(req, res));
    this.#server.on("connection", (s: Socket) => {
      this.#sockets.add(s);
      s.on("close", () => this.#sockets.delete(s));
    });
  }

  /** Starts an upstream on a free loopback port. */
  static async start(name = "upstream"): Promise<OpenAIUpstream> {
    const u = new OpenAIUpstream(name);
    await u.#listen(0);
    return u;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  #listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, "127.0.0.1", () => {
        this.#server.off("error", reject);
        this.#port = (this.#server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** Fails the next `times` requests (all, by default) as `failure` says; `undefined` answers normally again. */
  fail(failure: UpstreamFailure | undefined, times = Number.POSITIVE_INFINITY): void {
    this.#failure = failure;
    this.#failuresLeft = times;
  }

  /** Streams hold after their first chunk until the returned function is called. */
  holdAfterFirstChunk(): () => void {
    let release = () => {};
    this.#hold = new Promise((resolve) => {
      release = () => {
        this.#hold = undefined;
        resolve();
      };
    });
    return release;
  }

  /** Stops listening and drops every connection: connections are refused until {@link accept}. */
  async refuse(): Promise<void> {
    const closed = new Promise((resolve) => this.#server.close(resolve));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  accept(): Promise<void> {
    return this.#listen(this.#port);
  }

  /** Stops the upstream for good. */
  async stop(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    if (this.#server.listening) await this.refuse();
  }

  /** The requests to `path` so far. */
  to(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    const body = Buffer.concat(chunks).toString("utf8");
    let json: Record<string, unknown> | undefined;
    try {
      json = body ? (JSON.parse(body) as Record<string, unknown>) : undefined;
    } catch {
      json = undefined;
    }
    const record: RecordedRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      headers: req.headers,
      body,
      json,
      aborted: false,
      finished: false,
    };
    this.requests.push(record);
    res.on("close", () => {
      if (!res.writableFinished) record.aborted = true;
      this.#hanging.delete(res);
    });
    res.on("finish", () => {
      record.finished = true;
    });
    const failure = this.#failuresLeft > 0 ? this.#failure : undefined;
    if (failure) this.#failuresLeft--;
    if (failure?.kind === "hang") {
      this.#hanging.add(res);
      return;
    }
    if (failure?.kind === "delay") await new Promise((resolve) => setTimeout(resolve, failure.ms));
    if (failure?.kind === "status") {
      return this.#json(res, failure.status, {
        error: { message: `${this.name} fails`, type: "server_error", param: null, code: null },
      });
    }
    // Any prefix before /v1 is taken, as a model server behind a path-routing proxy takes it.
    const path = /\/v1\/[a-z/]+$/.exec((req.url ?? "").split("?")[0] ?? "")?.[0];
    if (path === "/v1/models") {
      return this.#json(res, 200, {
        object: "list",
        data: [{ id: "test-model", object: "model", owned_by: this.name }],
      });
    }
    if (req.method === "POST" && (path === "/v1/chat/completions" || path === "/v1/completions")) {
      const chat = path === "/v1/chat/completions";
      if (json?.stream === true) return this.#stream(res, chat, json, failure);
      return this.#json(res, 200, this.#completion(chat, json));
    }
    return this.#json(res, 200, {
      upstream: this.name,
      method: record.method,
      path: record.path,
      headers: req.headers,
      body,
    });
  }

  #words(): string[] {
    const n = this.behaviour.chunks ?? 3;
    return Array.from({ length: n }, (_, i) => (i === 0 ? "Hello" : i === n - 1 ? ` ${this.name}` : ` w${i}`));
  }

  #usage(json: Record<string, unknown> | undefined) {
    const prompt = JSON.stringify(json?.messages ?? json?.prompt ?? "").length;
    const completion = this.#words().length;
    return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
  }

  #completion(chat: boolean, json: Record<string, unknown> | undefined) {
    const text = this.#words().join("");
    const model = typeof json?.model === "string" ? json.model : "test-model";
    const choice = chat
      ? { index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }
      : { index: 0, text, finish_reason: "stop" };
    return {
      id: `cmpl-${this.name}`,
      object: chat ? "chat.completion" : "text_completion",
      created: 1,
      model,
      choices: [choice],
      ...(this.behaviour.usage === false ? {} : { usage: this.#usage(json) }),
    };
  }

  async #stream(
    res: ServerResponse,
    chat: boolean,
    json: Record<string, unknown>,
    failure: UpstreamFailure | undefined,
  ): Promise<void> {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.flushHeaders();
    const model = typeof json.model === "string" ? json.model : "test-model";
    const base = {
      id: `cmpl-${this.name}`,
      object: chat ? "chat.completion.chunk" : "text_completion",
      created: 1,
      model,
    };
    // Resolves once the chunk is handed to the socket, so that a cut after it still sends it.
    const send = (data: unknown) =>
      new Promise<void>((resolve) => {
        res.write(encoder.encode(`data: ${JSON.stringify(data)}\n\n`), () => resolve());
      });
    const words = this.#words();
    for (const [i, word] of words.entries()) {
      if (failure?.kind === "cut" && i === failure.afterChunks) {
        res.destroy();
        return;
      }
      const choice = chat ? { index: 0, delta: { content: word }, finish_reason: null } : { index: 0, text: word };
      await send({ ...base, choices: [choice] });
      if (i === 0 && this.#hold) await this.#hold;
      if (this.behaviour.chunkDelayMs) await new Promise((r) => setTimeout(r, this.behaviour.chunkDelayMs));
      if (res.destroyed) return;
    }
    const final = chat ? { index: 0, delta: {}, finish_reason: "stop" } : { index: 0, text: "", finish_reason: "stop" };
    await send({ ...base, choices: [final] });
    const options = json.stream_options as { include_usage?: boolean } | undefined;
    if (options?.include_usage === true && this.behaviour.usage !== false) {
      await send({ ...base, choices: [], usage: this.#usage(json) });
    }
    res.end("data: [DONE]\n\n");
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
  }
}
