/**
 * A CloudEvents HTTP receiver for tests: a real HTTP(S) server on loopback that takes the binding's three content modes
 * (parsed by the `cloudevents` SDK), records what it accepted in arrival order, de-duplicates by `id`, and misbehaves
 * on a schedule the test writes: error statuses, 429 with `Retry-After`, requests never answered, slow answers,
 * connections reset mid-request, and whole outages (nothing listening) that end on the same port.
 *
 * ```ts
 * const receiver = await CeReceiver.start();
 * receiver.schedule({ status: 503, retryAfter: "2" }, 3); // the next three requests are refused
 * // ... point a sink at receiver.url ...
 * await receiver.waitForEvents(10);
 * assert.deepEqual(receiver.events.map((e) => e.id), expectedIds);
 * await receiver.close();
 * ```
 */
import { once } from "node:events";
import {
  createServer as createHttpServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { type CloudEventV1, CONSTANTS, HTTP } from "cloudevents";
import { waitFor } from "./wait.js";

/**
 * What the receiver does with one request instead of accepting it:
 * - `{ status }`: answers that status (with `Retry-After` and a body if given); a 2xx status accepts the events.
 * - `{ hang: true }`: reads the request and never answers, accepting nothing (the sender's timeout ends it).
 * - `{ delayMs }`: accepts the events on arrival and answers 200 only after `delayMs`; longer than the sender's
 *   timeout, it is an acknowledgement lost on the way, and the events arrive again (duplicates with the same id).
 * - `{ reset: true }`: destroys the connection as soon as the request's headers arrived.
 */
export type Misbehaviour =
  | { readonly status: number; readonly retryAfter?: string; readonly body?: string }
  | { readonly hang: true }
  | { readonly delayMs: number }
  | { readonly reset: true };

/** The content mode a request came in, by its headers; `unparsed` when the SDK could not read it (answered 400). */
export type ReceivedMode = "binary" | "structured" | "batch" | "unparsed";

/** One request as the receiver saw it. */
export interface ReceivedRequest {
  readonly mode: ReceivedMode;
  /** The request's target: path and query. */
  readonly url: string;
  /** The request's headers, as Node gives them (lower-case names). */
  readonly headers: IncomingHttpHeaders;
  /** The ids of the events it carried, in order. */
  readonly ids: readonly string[];
  /** The sender's port: the same port on two requests means the connection was kept alive. */
  readonly remotePort: number;
  /** What the receiver answered: a status, or that it never answered or reset the connection. */
  readonly answer: number | "hang" | "reset";
}

/** An event the receiver accepted, and when (milliseconds since the epoch). */
export interface Arrival {
  readonly event: CloudEventV1<unknown>;
  readonly at: number;
}

/** TLS for the receiver: its serving certificate, and a CA to require client certificates from. */
export interface CeReceiverTls {
  readonly certPem: string;
  readonly keyPem: string;
  /** When given, a client certificate signed by this CA is required. */
  readonly clientCaPem?: string | undefined;
}

/** Options of {@link CeReceiver.start}. */
export interface CeReceiverOptions {
  /** Serve HTTPS with this certificate (default plain HTTP). */
  readonly tls?: CeReceiverTls | undefined;
  /** The loopback port (default any free one). */
  readonly port?: number | undefined;
  /** The URL path the receiver answers on (default `/events`); other paths get 404. */
  readonly path?: string | undefined;
}

function modeOf(headers: IncomingHttpHeaders): Exclude<ReceivedMode, "unparsed"> {
  const type = headers["content-type"] ?? "";
  if (type.startsWith(CONSTANTS.MIME_CE_BATCH)) return "batch";
  if (type.startsWith(CONSTANTS.MIME_CE)) return "structured";
  return "binary";
}

/** `ce-*` header values percent-decoded, as the HTTP binding asks of a receiver (the SDK does not do it). */
function decodedHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (typeof value === "string" && name.startsWith(CONSTANTS.EXTENSIONS_PREFIX)) {
      try {
        out[name] = decodeURIComponent(value);
      } catch {
        out[name] = value;
      }
    } else {
      out[name] = value;
    }
  }
  return out;
}

/** An HTTP CloudEvents receiver on loopback; see the module's documentation. */
export class CeReceiver {
  readonly #options: CeReceiverOptions;
  readonly #path: string;
  #server: Server;
  #port: number;
  readonly #sockets = new Set<Socket>();
  readonly #schedule: Misbehaviour[] = [];
  readonly #unique = new Map<string, CloudEventV1<unknown>>();
  readonly #arrivals: Arrival[] = [];
  readonly #requests: ReceivedRequest[] = [];
  #authorize: ((headers: IncomingHttpHeaders) => boolean) | undefined;

  private constructor(options: CeReceiverOptions, server: Server, port: number) {
    this.#options = options;
    this.#path = options.path ?? "/events";
    this.#server = server;
    this.#port = port;
  }

  /** Starts a receiver listening on 127.0.0.1. */
  static async start(options: CeReceiverOptions = {}): Promise<CeReceiver> {
    const receiver = new CeReceiver(options, CeReceiver.#newServer(options), 0);
    await receiver.#listen(options.port ?? 0);
    return receiver;
  }

  static #newServer(options: CeReceiverOptions): Server {
    const tls = options.tls;
    if (!tls) return createHttpServer();
    return createHttpsServer({
      cert: tls.certPem,
      key: tls.keyPem,
      ...(tls.clientCaPem ? { ca: tls.clientCaPem, requestCert: true, rejectUnauthorized: true } : {}),
    });
  }

  async #listen(port: number): Promise<void> {
    const server = this.#server;
    server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    server.on("request", (req: IncomingMessage, res: ServerResponse) => this.#handle(req, res));
    server.listen(port, "127.0.0.1");
    await once(server, "listening");
    this.#port = (server.address() as AddressInfo).port;
  }

  /** Where to send events, e.g. `http://127.0.0.1:34567/events`. */
  get url(): string {
    return `${this.#options.tls ? "https" : "http"}://127.0.0.1:${this.#port}${this.#path}`;
  }

  /** Every event accepted, once per `id`, in the order each id first arrived. */
  get events(): readonly CloudEventV1<unknown>[] {
    return [...this.#unique.values()];
  }

  /** Every event accepted, duplicates included, in arrival order with arrival times. */
  get arrivals(): readonly Arrival[] {
    return this.#arrivals;
  }

  /** How many accepted events repeated an id already accepted. */
  get duplicates(): number {
    return this.#arrivals.length - this.#unique.size;
  }

  /** Every request, in arrival order, with what was answered. */
  get requests(): readonly ReceivedRequest[] {
    return this.#requests;
  }

  /** Misbehaves on the next `times` requests (after whatever is already scheduled). */
  schedule(misbehaviour: Misbehaviour, times = 1): void {
    for (let i = 0; i < times; i++) this.#schedule.push(misbehaviour);
  }

  /** Answers 401 to requests `check` refuses (by their headers); `undefined` accepts all again. */
  authorize(check: ((headers: IncomingHttpHeaders) => boolean) | undefined): void {
    this.#authorize = check;
  }

  /** Waits until `count` distinct events were accepted. */
  async waitForEvents(count: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(`${count} events at the receiver (${this.#unique.size} so far)`, () => this.#unique.size >= count, {
      timeoutMs,
    });
  }

  /** An outage: stops listening and drops every connection (senders get refused connections); records stay. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server.listening) return;
    const closed = once(server, "close");
    server.close();
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }

  /** Ends an outage: listens again, on the same port. */
  async restart(): Promise<void> {
    if (this.#server.listening) return;
    this.#server = CeReceiver.#newServer(this.#options);
    await this.#listen(this.#port);
  }

  /** Stops for good. */
  close(): Promise<void> {
    return this.stop();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const remotePort = req.socket.remotePort ?? 0;
    const record = (mode: ReceivedMode, ids: readonly string[], answer: ReceivedRequest["answer"]) =>
      this.#requests.push({ mode, url: req.url ?? "", headers: req.headers, ids, remotePort, answer });
    if (req.method !== "POST" || (req.url ?? "").split("?")[0] !== this.#path) {
      res.writeHead(req.method === "POST" ? 404 : 405).end();
      return;
    }
    const misbehaviour = this.#schedule.shift();
    if (misbehaviour && "reset" in misbehaviour) {
      record(modeOf(req.headers), [], "reset");
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      let events: CloudEventV1<unknown>[];
      try {
        const parsed = HTTP.toEvent<unknown>({ headers: decodedHeaders(req.headers), body });
        events = Array.isArray(parsed) ? parsed : [parsed];
      } catch (err) {
        record("unparsed", [], 400);
        res.writeHead(400, { "content-type": "text/plain" }).end(`not a CloudEvent: ${(err as Error).message}`);
        return;
      }
      const mode = modeOf(req.headers);
      const ids = events.map((e) => e.id);
      if (this.#authorize && !this.#authorize(req.headers)) {
        record(mode, ids, 401);
        res.writeHead(401, { "content-type": "text/plain" }).end("unauthorized");
        return;
      }
      if (misbehaviour && "hang" in misbehaviour) {
        record(mode, ids, "hang");
        return;
      }
      if (misbehaviour && "status" in misbehaviour && (misbehaviour.status < 200 || misbehaviour.status > 299)) {
        record(mode, ids, misbehaviour.status);
        const headers = misbehaviour.retryAfter === undefined ? {} : { "retry-after": misbehaviour.retryAfter };
        res.writeHead(misbehaviour.status, headers).end(misbehaviour.body ?? "");
        return;
      }
      const at = Date.now();
      for (const event of events) {
        this.#arrivals.push({ event, at });
        if (!this.#unique.has(event.id)) this.#unique.set(event.id, event);
      }
      const status = misbehaviour && "status" in misbehaviour ? misbehaviour.status : 200;
      record(mode, ids, status);
      if (misbehaviour && "delayMs" in misbehaviour) {
        const timer = setTimeout(() => res.writeHead(status).end(), misbehaviour.delayMs);
        res.on("close", () => clearTimeout(timer));
      } else {
        res.writeHead(status).end();
      }
    });
  }
}
