/**
 * Talking to one cluster: a bounded keep-alive undici pool for requests and a connection of its own for each stream,
 * with authentication, client-side rate limiting, `429`/`Retry-After`, retries of idempotent reads on network errors,
 * deadlines, and `AbortSignal` on every call.
 *
 * Retries follow client-go's rest client: a `429`, or a `5xx` that carries `Retry-After`, is sent again for any verb
 * after the delay the server asked for (the server did not process it, or asked for the retry); a network failure is
 * retried with backoff for reads only, as a write may have been applied before the connection broke.
 */
import type { Readable } from "node:stream";
import { createSecureContext } from "node:tls";
import { context, type TracerProvider } from "@opentelemetry/api";
import type { Dispatcher } from "undici";
import { type AuthCredentials, type ClusterConfig, sameCredentials } from "../config/types.js";
import { untilAborted } from "../util/abort.js";
import { definedProps } from "../util/defined.js";
import { ApiError, errorFromStatus } from "./errors.js";
import { H2Connections, http1Only } from "./h2.js";
import { networkError } from "./network.js";
import { TokenBucket } from "./ratelimit.js";
import { Recovery, type RecoveryOptions } from "./recovery.js";
import { CallScope, sleep } from "./scope.js";
import { CallSpan, Tracing } from "./tracing.js";
import { type Client, type Connector, type Pool, undici } from "./undici.js";
import { defaultUserAgent } from "./useragent.js";
import { parseWarnings } from "./warnings.js";

/** Query parameters; `undefined` values are left out. */
export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

/** One request to the API server. */
export interface RequestOptions {
  readonly method?: string | undefined;
  /** The path below the server URL, e.g. `/api/v1/namespaces/default/pods`. */
  readonly path: string;
  readonly query?: Query | undefined;
  /** A JSON value (serialized here), or a string/Buffer sent as it is. */
  readonly body?: unknown | undefined;
  readonly contentType?: string | undefined;
  readonly accept?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * Deadline in ms for the whole call: rate-limit waits after the first, every attempt and the waits between them, and
   * reading the body. For {@link Transport.stream} it ends once the response headers are in. Default the transport's
   * (30 s); 0: none.
   */
  readonly timeoutMs?: number | undefined;
  /** Overrides {@link TransportOptions.maxRetries} for this call. */
  readonly maxRetries?: number | undefined;
  /**
   * An entity tag the caller holds (sent as `If-None-Match`): a `304 Not Modified` then answers with an empty body
   * instead of throwing, and the caller keeps what it has.
   */
  readonly ifNoneMatch?: string | undefined;
}

/** A response whose body has been read. */
export interface Response {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

/** A response whose body is still streaming (watches). */
export interface StreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * The body as it arrives. Iteration ends when the server ends the stream or after {@link StreamResponse.close}; it throws an
   * {@link ApiError} when the connection breaks (`Network`), the caller's signal fires or the transport closes
   * (`Aborted`).
   */
  readonly body: AsyncIterable<Buffer>;
  /**
   * Hands each network read to `sink` as it arrives, instead of iterating {@link StreamResponse.body}: no promise or
   * async step per read. Use one of the two, once. After {@link StreamResponse.close} the sink hears nothing more.
   */
  subscribe(sink: StreamSink): void;
  /** Stops reading from the network until {@link StreamResponse.resume} (backpressure: the consumer is behind). */
  pause(): void;
  /** Reads again after {@link StreamResponse.pause}. */
  resume(): void;
  /** Ends the stream and releases its connection; iteration then ends without an error. */
  close(): void;
}

/** Receives a stream's body as it arrives ({@link StreamResponse.subscribe}). Exactly one of `end` and `error` ends it. */
export interface StreamSink {
  /** One network read, in order. */
  data(chunk: Buffer): void;
  /** The server ended the stream. */
  end(): void;
  /**
   * The stream broke: a `Network` {@link ApiError} when the connection did, `Aborted` when the caller's signal fired or
   * the transport closed.
   */
  error(error: ApiError): void;
}

/** A retry the transport is about to make: for logs and metrics (client-go's `rest_client_request_retries_total`). */
export interface RetryEvent {
  /** "METHOD path". */
  readonly request: string;
  /** The HTTP method, upper case. */
  readonly method: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** Why it failed. */
  readonly error: ApiError;
  /** How long the transport waits before the next attempt: the server's `Retry-After`, or a backoff. */
  readonly delayMs: number;
}

/** One attempt of a call, once its response's status is in or it failed without one: for metrics. */
export interface AttemptEvent {
  /** The HTTP method, upper case. */
  readonly method: string;
  /** The path below the server URL, without the query. */
  readonly path: string;
  /** The server's `host:port`, as client-go's `host` label has it. */
  readonly host: string;
  /** The response's status; 0 when there was none (network failure, deadline, abort). */
  readonly status: number;
  /** Why the attempt failed, when it did (a non-2xx status, or no response). */
  readonly error?: ApiError | undefined;
  /** Whether the call is a stream (a watch): its attempt ends with the response headers. */
  readonly stream: boolean;
}

/** A request (not a stream) that ended, after all its attempts and reading its body, successful or not. */
export interface CallEvent {
  /** The HTTP method, upper case. */
  readonly method: string;
  /** The path below the server URL, without the query. */
  readonly path: string;
  /** The server's `host:port`. */
  readonly host: string;
  /** From the call to its end, rate-limit waits and retries included, in seconds (client-go's request latency). */
  readonly seconds: number;
}

/**
 * Hears what a transport does, for metrics; attach it with {@link Transport.observe}, also to a transport in use. Its
 * methods run inside the call, so they must be quick; what they throw is ignored rather than failing the call.
 */
export interface TransportObserver {
  /** Each attempt, retries and streams included (client-go's `rest_client_requests_total`). */
  attempt?(event: AttemptEvent): void;
  /** Each request once it ended (client-go's `rest_client_request_duration_seconds`). */
  call?(event: CallEvent): void;
  /** Each retry, as {@link TransportOptions.onRetry} is told of it. */
  retry?(event: RetryEvent): void;
}

/** The state of a transport's client-side rate limit. */
export interface RateLimitStatus {
  /** "auto": on until the server shows API Priority and Fairness; "fixed": always on; "off": never. */
  readonly mode: "auto" | "fixed" | "off";
  /** Whether requests are limited now. */
  readonly active: boolean;
  readonly qps: number;
  readonly burst: number;
  /** Requests that had to wait for a token so far. */
  readonly delayed: number;
  /** Requests waiting for a token now. */
  readonly waiting: number;
}

/** Tuning of a {@link Transport}. */
export interface TransportOptions {
  /** Sent as `User-Agent`; default `kindwatch/VERSION (OS/ARCH) node/VERSION`. */
  readonly userAgent?: string | undefined;
  /**
   * Client-side rate limit in requests per second, for requests but not for streams (as client-go leaves watches
   * alone). Default "auto": 50 QPS with a burst of 100 until a response shows that the server does API Priority and
   * Fairness (`X-Kubernetes-PF-*` headers), then off, as the server protects itself better than a client can guess.
   * 0 or a negative number: off.
   */
  readonly qps?: number | "auto" | undefined;
  /** Most requests at once after a quiet spell; default 100 in "auto" mode, else `qps`. */
  readonly burst?: number | undefined;
  /** Default deadline of a call (see {@link RequestOptions.timeoutMs}); default 30 s. */
  readonly timeoutMs?: number | undefined;
  /** How many times a `429` or a `5xx` with `Retry-After` (any verb), or a network error (reads only), is retried; default 5. */
  readonly maxRetries?: number | undefined;
  /**
   * Whether to offer HTTP/2 (ALPN `h2`) and, when the server takes it, multiplex every request and watch of the cluster
   * over one connection (or a few, as the server's `SETTINGS_MAX_CONCURRENT_STREAMS` allows); default true. false, or
   * a server that does not offer h2 (or a plain `http:` URL): HTTP/1.1, a pool for requests and a connection per stream.
   * When not given, a non-empty `DISABLE_HTTP2` environment variable turns it off, as it does for client-go and kubectl.
   */
  readonly http2?: boolean | undefined;
  /**
   * HTTP/2 only: a connection that has read nothing for this long is sent a PING (client-go's `ReadIdleTimeout`);
   * default 30 s.
   */
  readonly pingIntervalMs?: number | undefined;
  /** HTTP/2 only: a PING unanswered for this long fails the connection and every stream on it; default 15 s. */
  readonly pingTimeoutMs?: number | undefined;
  /** HTTP/1.1 only: most connections for ordinary requests; default 32. Each stream has a connection of its own besides. */
  readonly connections?: number | undefined;
  /** Called before each retry. */
  readonly onRetry?: ((event: RetryEvent) => void) | undefined;
  /** Called with each warning the server sends (`Warning: 299`), such as the use of a deprecated API. */
  readonly onWarning?: ((warning: string, request: string) => void) | undefined;
  /** Tuning of the probe that wakes backoffs when the server answers again ({@link Transport.recovery}). */
  readonly recovery?: RecoveryOptions | undefined;
  /**
   * Where the CLIENT span of each call goes (OpenTelemetry); default the global provider, so that calls are traced
   * once an SDK is registered and cost nothing before.
   */
  readonly tracerProvider?: TracerProvider | undefined;
}

const readOnlyMethods = new Set(["GET", "HEAD"]);
/** APF asks for at most 32 s; anything longer is a proxy's mistake, not a reason to hang. */
const maxRetryAfterMs = 60_000;
/** A server that cannot say whether it is ready within this is not back yet; a hung probe would delay the next one. */
const probeTimeoutMs = 2000;

function buildQuery(query: Query | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.append(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : "";
}

function encodeBody(body: unknown): string | Buffer | Uint8Array | undefined {
  if (body === undefined || typeof body === "string" || body instanceof Uint8Array) return body;
  return JSON.stringify(body);
}

/** `Retry-After` in seconds: an integer (what the API server sends) or an HTTP date (what some proxies send). */
function retryAfterHeader(headers: Response["headers"]): number | undefined {
  const raw = headers["retry-after"];
  const value = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** Exponential backoff with jitter for network retries: 100-200 ms, 200-400 ms, ... up to 2.5-5 s. */
function backoffMs(attempt: number): number {
  const cap = Math.min(200 * 2 ** (attempt - 1), 5000);
  return cap / 2 + Math.random() * (cap / 2);
}

/** A copy of `error` with another message (and the original as its cause). */
function withMessage(error: ApiError, message: string): ApiError {
  return new ApiError({
    kind: error.kind,
    status: error.status,
    message,
    reason: error.reason,
    details: error.details,
    request: error.request,
    transient: error.transient,
    cause: error,
  });
}

/**
 * `sent`, or the scope's reason as soon as its signal fires. undici applies an abort only once the request has a
 * connection, so a request waiting for one (a TLS handshake that hangs) would ignore its signal until undici's own
 * 10 s connect timeout; the caller hears at once, and a response that comes after all is thrown away.
 */
/** A response whose headers are in, from either wire: undici's over HTTP/1.1, or an HTTP/2 stream. */
type Exchange = Pick<Dispatcher.ResponseData, "statusCode" | "headers"> & { readonly body: Readable };

/** Reads a body to its end. */
async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of body) chunks.push(chunk as Buffer);
  } catch (err) {
    if (!endedInFull(body, err)) throw err;
  }
  const err = cutOff(body);
  if (err) throw err;
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}

/**
 * A stream's response ({@link Transport.stream}): its body iterated, or pushed to one subscriber. A class rather than
 * closures: a watch-all engine holds one per kind.
 */
class OpenStream implements StreamResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly #raw: Readable & AsyncIterable<Buffer>;
  /** Frees the call's connection (or stream); safe to call twice. */
  readonly #end: () => void;
  readonly #failure: (err: unknown) => ApiError;
  readonly #request: string;
  #closed = false;
  #subscribed = false;
  #settled = false;
  #body: AsyncGenerator<Buffer, void, undefined> | undefined;

  constructor(res: Exchange, request: string, end: () => void, failure: (err: unknown) => ApiError) {
    this.status = res.statusCode;
    this.#request = request;
    this.headers = res.headers;
    this.#raw = res.body as Readable & AsyncIterable<Buffer>;
    this.#end = end;
    this.#failure = failure;
  }

  get body(): AsyncIterable<Buffer> {
    this.#body ??= this.#chunks();
    return this.#body;
  }

  async *#chunks(): AsyncGenerator<Buffer, void, undefined> {
    const raw = this.#raw;
    try {
      try {
        for await (const chunk of raw) yield chunk;
      } catch (err) {
        if (!endedInFull(raw, err)) throw err;
      }
      const err = cutOff(raw);
      if (err) throw err;
    } catch (err) {
      if (!this.#closed) throw this.#failure(err);
    } finally {
      raw.destroy();
      this.#end();
    }
  }

  subscribe(sink: StreamSink): void {
    if (this.#subscribed) throw new Error(`${this.#request}: a stream has one subscriber`);
    this.#subscribed = true;
    const raw = this.#raw;
    raw.on("data", (chunk: Buffer) => {
      if (!this.#closed) sink.data(chunk);
    });
    raw.on("end", () => {
      const err = cutOff(raw);
      this.#settle(sink, err ? this.#failure(err) : undefined);
    });
    raw.on("error", (err: unknown) => this.#settle(sink, this.#failure(err)));
    // Destroyed without an error (the caller's signal ended the connection): the scope tells why.
    raw.on("close", () => {
      const early = Object.assign(new Error("the stream closed before its end"), {
        code: "ERR_STREAM_PREMATURE_CLOSE",
      });
      this.#settle(sink, this.#failure(early));
    });
  }

  #settle(sink: StreamSink, error: ApiError | undefined): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#raw.destroy();
    this.#end();
    if (this.#closed) return;
    if (error) sink.error(error);
    else sink.end();
  }

  pause(): void {
    this.#raw.pause();
  }

  resume(): void {
    this.#raw.resume();
  }

  close(): void {
    this.#closed = true;
    this.#raw.destroy();
    this.#end();
  }
}

/** An HTTP/2 body whose stream the server reset with an error code was cut off, whatever its reader saw. */
function cutOff(body: Readable): Error | undefined {
  const code = (body as { rstCode?: number }).rstCode;
  return code !== undefined && code !== 0
    ? Object.assign(new Error(`the stream was cut off (RST ${code})`), { code: "ECONNRESET" })
    : undefined;
}

/**
 * Whether an iteration over `body` failed only by Node's HTTP/2 race (nodejs/node#65677, Node 24.20 and 26.3 on): the
 * iterator reports a premature close although the body ended in full ('end' came, so every chunk was read, and no
 * reset with an error code).
 */
function endedInFull(body: Readable, err: unknown): boolean {
  return (
    (err as { code?: unknown } | undefined)?.code === "ERR_STREAM_PREMATURE_CLOSE" &&
    body.readableEnded &&
    cutOff(body) === undefined
  );
}

function abortable(sent: Promise<Exchange>, scope: CallScope): Promise<Exchange> {
  const letGo = () =>
    void sent.then(
      (res) => res.body.destroy(),
      () => {},
    );
  if (scope.signal.aborted) {
    letGo();
    return Promise.reject(scope.reason);
  }
  return untilAborted(sent, scope.signal, letGo);
}

/** One attempt's request, as either wire takes it. */
interface WireRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: string | Buffer | Uint8Array | undefined;
  readonly signal: AbortSignal;
}

/** How one attempt is sent, and how what it holds is let go of. */
interface Wire {
  send(req: WireRequest): Promise<Exchange>;
  dispose(): void;
}

type Outcome<T> =
  | { readonly ok: true; readonly value: T; readonly status: number }
  | { readonly ok: false; readonly error: ApiError };

/** Sends requests to one cluster. Create one per cluster and share it; {@link Transport.close} it when done. */
export class Transport {
  readonly config: ClusterConfig;
  /**
   * Wakes waits on this cluster's return after an outage: it probes `GET /readyz` about once a second while someone
   * waits, never otherwise (see {@link Recovery}).
   */
  readonly recovery: Recovery;
  readonly #origin: string;
  readonly #host: string;
  readonly #basePath: string;
  readonly #options: TransportOptions;
  readonly #userAgent: string;
  readonly #limiter: TokenBucket | undefined;
  readonly #limiterMode: RateLimitStatus["mode"];
  readonly #scopes = new Set<CallScope>();
  readonly #observers = new Set<TransportObserver>();
  readonly #tracing: Tracing;
  /** Made on the first HTTP/1.1 request, so that a transport speaking HTTP/2 never loads undici. */
  #pool: Pool | undefined;
  #poolCert: string | undefined;
  #streamConnect: { readonly cert: string | undefined; readonly connect: Connector } | undefined;
  #h2: H2Connections | undefined;
  #h2Cert: string | undefined;
  /** HTTP/1.1 only: turned off, a plain `http:` server, or one that did not take h2. */
  #http1: boolean;
  #negotiated = false;
  #closed = false;

  constructor(config: ClusterConfig, options: TransportOptions = {}) {
    this.config = config;
    const url = new URL(config.server);
    this.#origin = url.origin;
    this.#host = url.host;
    this.#basePath = url.pathname.replace(/\/+$/, "");
    this.#options = options;
    this.#userAgent = options.userAgent ?? defaultUserAgent;
    this.#tracing = new Tracing(options.tracerProvider);
    const qps = options.qps ?? "auto";
    if (qps === "auto") {
      this.#limiterMode = "auto";
      this.#limiter = new TokenBucket(50, options.burst ?? 100);
    } else if (qps > 0) {
      this.#limiterMode = "fixed";
      this.#limiter = new TokenBucket(qps, options.burst ?? qps);
    } else {
      this.#limiterMode = "off";
    }
    // As client-go, DISABLE_HTTP2 in the environment turns HTTP/2 off unless the options say otherwise.
    const http2 = options.http2 ?? !process.env.DISABLE_HTTP2;
    this.#http1 = !http2 || url.protocol !== "https:";
    // /readyz rather than /version: it fails until the server can serve (storage, informers, post-start hooks), and RBAC's
    // system:public-info-viewer grants it to every user, authenticated or not. One attempt per probe: the next probe is
    // the retry.
    this.recovery = new Recovery(
      (signal) => this.request({ path: "/readyz", signal, timeoutMs: probeTimeoutMs, maxRetries: 0 }),
      options.recovery,
    );
  }

  /** Adds an observer of every call from now on; returns a function that removes it. */
  observe(observer: TransportObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  #notify<E>(pick: (o: TransportObserver) => ((event: E) => void) | undefined, event: E): void {
    for (const observer of this.#observers) {
      try {
        pick(observer)?.call(observer, event);
      } catch {
        // An observer's failure (a metrics bug) must not fail the call it observes.
      }
    }
  }

  #attempted(method: string, path: string, stream: boolean, outcome: Outcome<unknown>): void {
    const status = outcome.ok ? outcome.status : outcome.error.status;
    const error = outcome.ok ? undefined : outcome.error;
    this.#notify((o) => o.attempt, { method, path, host: this.#host, status, error, stream });
  }

  #retried(event: RetryEvent): void {
    this.#options.onRetry?.(event);
    this.#notify((o) => o.retry, event);
  }

  /** The client-side rate limit as it stands. */
  get rateLimit(): RateLimitStatus {
    const bucket = this.#limiter;
    return {
      mode: this.#limiterMode,
      active: bucket !== undefined && !bucket.disabled,
      qps: bucket?.qps ?? 0,
      burst: bucket?.burst ?? 0,
      delayed: bucket?.delayed ?? 0,
      waiting: bucket?.waiting ?? 0,
    };
  }

  /**
   * TLS options with one secure context for every connection: built from the CA, certificate and key once, not per
   * connection (parsing them is most of what a new connection costs the client).
   */
  #connectOptions(cert: string | undefined, key: string | undefined) {
    const tls = this.config.tls;
    return {
      secureContext: createSecureContext({ ca: tls.ca || undefined, ...(cert && key ? { cert, key } : {}) }),
      rejectUnauthorized: !tls.insecureSkipVerify,
      servername: tls.serverName || undefined,
    };
  }

  /** One connector for every stream's client, so that they share TLS sessions (resumed, not full handshakes). */
  #streamConnector(cert: string | undefined, key: string | undefined): Connector {
    let shared = this.#streamConnect;
    if (shared?.cert !== cert || !shared) {
      shared = { cert, connect: undici().buildConnector(this.#connectOptions(cert, key)) };
      this.#streamConnect = shared;
    }
    return shared.connect;
  }

  /**
   * The pool for ordinary requests, bounded, since a burst of parallel requests on fresh connections spends its time in
   * TLS handshakes.
   */
  #newPool(cert: string | undefined, key: string | undefined): Pool {
    return new (undici().Pool)(this.#origin, {
      connect: this.#connectOptions(cert, key),
      connections: this.#options.connections ?? 32,
      // Below the API server's 90 s idle timeout, so that we close idle connections before it does.
      keepAliveTimeout: 30_000,
      // Deadlines are per call instead (CallScope), across retries.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /**
   * A connection of its own for each stream. A stream holds its connection for minutes and is ended by destroying it
   * mid-response, after which an undici pool would at once open a spare connection to replace it (measured with undici
   * 7.30: every closed watch left an idle TLS connection behind); a client of its own is destroyed with the stream.
   */
  #newStreamClient(creds: AuthCredentials): Client {
    const cert = creds.cert && creds.key ? creds : this.config.tls;
    return new (undici().Client)(this.#origin, {
      connect: this.#streamConnector(cert.cert, cert.key),
      // Watches stay open for minutes with long quiet spells; the call's deadline covers the wait for the headers.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  /**
   * What ends a call whose stream was handed over: a closure of its own, so that a watch, which holds it for its whole
   * life, keeps none of {@link Transport.#send}'s frame alive (a thousand watches, a thousand frames).
   */
  #ender(scope: CallScope, wire: Wire): () => void {
    return () => {
      this.#forget(scope);
      wire.dispose();
    };
  }

  /** The call is over: its deadline and signal listener go, and {@link Transport.close} no longer aborts it. */
  #forget(scope: CallScope): void {
    scope.dispose();
    this.#scopes.delete(scope);
  }

  /**
   * How one attempt goes out: over HTTP/2 while the server speaks it, else undici's pool (requests) or a client of its
   * own (streams). `dispose` lets go of what a stream holds: its HTTP/2 stream, or its HTTP/1.1 connection.
   */
  #wire(creds: AuthCredentials, stream: boolean): Wire {
    let dispose = () => {};
    const http1 = (req: WireRequest): Promise<Exchange> => {
      const dispatcher: Dispatcher = stream ? this.#newStreamClient(creds) : this.#poolFor(creds);
      if (stream) dispose = () => void dispatcher.destroy();
      const options: Dispatcher.RequestOptions = {
        method: req.method as Dispatcher.HttpMethod,
        path: req.path,
        headers: req.headers,
        ...definedProps({ body: req.body }),
        signal: req.signal,
      };
      return dispatcher.request(options);
    };
    return {
      send: async (req) => {
        const h2 = this.#h2For(creds);
        if (!h2) return http1(req);
        const res = await h2.request(req);
        if (res === http1Only) {
          this.#http1Only();
          return http1(req);
        }
        this.#negotiated = true;
        if (stream) dispose = () => res.close();
        return res;
      },
      dispose: () => dispose(),
    };
  }

  /** The HTTP/2 connections for `creds`' client certificate, or undefined where HTTP/1.1 is used. */
  #h2For(creds: AuthCredentials): H2Connections | undefined {
    if (this.#http1) return undefined;
    const identity = creds.cert && creds.key ? creds : this.config.tls;
    if (!this.#h2 || this.#h2Cert !== identity.cert) {
      // A rotated client certificate: new connections present it; the streams on the old ones go on to their end.
      this.#h2?.retire();
      this.#h2 = new H2Connections(
        { origin: this.#origin, ...this.#connectOptions(identity.cert, identity.key) },
        {
          pingIntervalMs: this.#options.pingIntervalMs ?? 30_000,
          pingTimeoutMs: this.#options.pingTimeoutMs ?? 15_000,
          idleMs: 30_000,
          spareMs: 1000,
        },
      );
      this.#h2Cert = identity.cert;
    }
    return this.#h2;
  }

  /** The server did not take h2 over ALPN: HTTP/1.1 from now on. */
  #http1Only(): void {
    this.#http1 = true;
    this.#h2?.retire();
    this.#h2 = undefined;
  }

  /**
   * The protocol the transport speaks to its server: `"h2"` once a request went over HTTP/2, `"http/1.1"` when HTTP/2
   * is off or the server did not offer it, undefined before the first connection tells.
   */
  get protocol(): "h2" | "http/1.1" | undefined {
    if (this.#http1) return "http/1.1";
    return this.#negotiated ? "h2" : undefined;
  }

  /** Rotated client certificates (exec plugins) need a pool whose connections present the new one. */
  #poolFor(creds: AuthCredentials): Pool {
    const cert = creds.cert && creds.key ? creds : this.config.tls;
    if (!this.#pool || cert.cert !== this.#poolCert) {
      // close() lets in-flight requests finish on the old connections.
      void this.#pool?.close();
      this.#pool = this.#newPool(cert.cert, cert.key);
      this.#poolCert = cert.cert;
    }
    return this.#pool;
  }

  #headers(opts: RequestOptions, creds: AuthCredentials, hasBody: boolean): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = {
      accept: opts.accept ?? "application/json",
      "user-agent": this.#userAgent,
    };
    if (hasBody) headers["content-type"] = opts.contentType ?? "application/json";
    if (opts.ifNoneMatch !== undefined) headers["if-none-match"] = opts.ifNoneMatch;
    if (creds.token) headers.authorization = `Bearer ${creds.token}`;
    const as = this.config.impersonate;
    if (as) {
      headers["impersonate-user"] = as.user;
      if (as.uid) headers["impersonate-uid"] = as.uid;
      if (as.groups?.length) headers["impersonate-group"] = [...as.groups];
      for (const [key, values] of Object.entries(as.extra ?? {})) {
        headers[`impersonate-extra-${encodeURIComponent(key)}`] = [...values];
      }
    }
    return headers;
  }

  #closedError(request: string): ApiError {
    return new ApiError({
      kind: "Aborted",
      status: 0,
      message: `${request}: the transport is closed; create a new one to send more requests`,
      request,
    });
  }

  /** What a thrown error means for this call: the scope's reason once it fired, else a network failure. */
  #failure(err: unknown, scope: CallScope, request: string): ApiError {
    if (scope.signal.aborted) return scope.reason;
    if (this.#closed) return this.#closedError(request);
    return networkError(err, request, this.config.server);
  }

  async #throttle(limiter: TokenBucket | undefined, scope: CallScope): Promise<void> {
    if (!limiter) return;
    try {
      await limiter.take(scope.signal);
    } catch {
      throw scope.reason;
    }
  }

  async #credentials(scope: CallScope): Promise<AuthCredentials> {
    try {
      return await this.config.auth.credentials(scope.signal);
    } catch (err) {
      // A ConfigError (an exec plugin failed) says what to fix; pass it on as it is.
      throw scope.signal.aborted ? scope.reason : err;
    }
  }

  /** Notes what every response tells about the server: whether it does APF, and its warnings. */
  #observe(headers: Response["headers"], request: string): void {
    if (
      this.#limiterMode === "auto" &&
      (headers["x-kubernetes-pf-flowschema-uid"] !== undefined ||
        headers["x-kubernetes-pf-prioritylevel-uid"] !== undefined)
    ) {
      this.#limiter?.disable();
    }
    const onWarning = this.#options.onWarning;
    if (onWarning) for (const text of parseWarnings(headers.warning)) onWarning(text, request);
  }

  /** How long to wait before retrying after `error`, or undefined if it must not be retried. */
  #retryDelay(error: ApiError, method: string, attempt: number): number | undefined {
    const after = error.retryAfterSeconds;
    if (error.status === 429) return after === undefined ? backoffMs(attempt) : Math.min(after * 1000, maxRetryAfterMs);
    if (error.status >= 500 && after !== undefined) return Math.min(after * 1000, maxRetryAfterMs);
    if (error.status === 0 && error.kind === "Network" && error.transient && readOnlyMethods.has(method)) {
      return backoffMs(attempt);
    }
    return undefined;
  }

  async #attempt<T>(
    opts: RequestOptions,
    method: string,
    path: string,
    body: string | Buffer | Uint8Array | undefined,
    creds: AuthCredentials,
    wire: Wire,
    scope: CallScope,
    span: CallSpan | undefined,
    consume: (res: Exchange) => Promise<T>,
  ): Promise<Outcome<T>> {
    const request = `${method} ${opts.path}`;
    try {
      const headers = this.#headers(opts, creds, body !== undefined);
      span?.inject(headers);
      const send = () => wire.send({ method, path, headers, body, signal: scope.signal });
      // The call's span is active while undici takes the request, so that an undici instrumentation nests under it.
      const res = await abortable(span ? context.with(span.context, send) : send(), scope);
      span?.response(res.statusCode);
      this.#observe(res.headers, request);
      const notModified = res.statusCode === 304 && opts.ifNoneMatch !== undefined;
      if ((res.statusCode >= 200 && res.statusCode < 300) || notModified)
        return { ok: true, value: await consume(res), status: res.statusCode };
      const text = (await readAll(res.body)).toString("utf8");
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON (APF's 429, a proxy's page): errorFromStatus quotes the text.
      }
      return { ok: false, error: errorFromStatus(res.statusCode, parsed, request, retryAfterHeader(res.headers)) };
    } catch (err) {
      return { ok: false, error: this.#failure(err, scope, request) };
    }
  }

  /**
   * Sends with retries; `consume` turns a 2xx response into the result, inside the retry loop and the deadline. For a
   * stream, `consume` takes over the call: it must call `end` once the stream is done, which frees its connection.
   */
  async #send<T>(
    opts: RequestOptions,
    stream: boolean,
    consume: (res: Exchange, scope: CallScope, end: () => void) => Promise<T>,
  ): Promise<T> {
    const method = (opts.method ?? "GET").toUpperCase();
    const request = `${method} ${opts.path}`;
    if (this.#closed) throw this.#closedError(request);
    const started = performance.now();
    const scope = new CallScope(opts.signal, request);
    this.#scopes.add(scope);
    let handedOver = false;
    let span: CallSpan | undefined;
    try {
      const path = `${this.#basePath}${opts.path}${buildQuery(opts.query)}`;
      span = CallSpan.start(this.#tracing, { method, path: opts.path, url: `${this.#origin}${path}`, stream });
      const body = encodeBody(opts.body);
      const maxRetries = Math.max(0, opts.maxRetries ?? this.#options.maxRetries ?? 5);
      const limiter = stream ? undefined : this.#limiter;
      // As client-go: the first wait for a token comes before the deadline starts, so that a throttled client does
      // not time out calls that it has not even sent.
      await this.#throttle(limiter, scope);
      scope.startDeadline(opts.timeoutMs ?? this.#options.timeoutMs ?? 30_000);
      let creds = await this.#credentials(scope);
      let reauthenticated = false;
      for (let attempt = 1; ; attempt++) {
        if (attempt > 1) await this.#throttle(limiter, scope);
        const wire = this.#wire(creds, stream);
        const end = this.#ender(scope, wire);
        const outcome = await this.#attempt(opts, method, path, body, creds, wire, scope, span, (res) =>
          consume(res, scope, end),
        );
        if (this.#observers.size > 0) this.#attempted(method, opts.path, stream, outcome);
        if (outcome.ok) {
          handedOver = stream;
          span?.end();
          return outcome.value;
        }
        wire.dispose();
        const error = outcome.error;
        if (error.kind === "Aborted" || (error.kind === "Timeout" && error.status === 0)) throw error;
        scope.lastError = error;
        if (error.status === 401 && !reauthenticated) {
          // Expired exec-plugin or token-file credentials: fetch fresh ones and try once more, if there are any.
          reauthenticated = true;
          this.config.auth.invalidate(creds);
          const fresh = await this.#credentials(scope);
          if (!sameCredentials(fresh, creds)) {
            creds = fresh;
            this.#retried({ request, method, attempt, error, delayMs: 0 });
            span?.retry(attempt, error, 0);
            continue;
          }
        }
        if (error.status === 401) {
          throw withMessage(
            error,
            `${error.message}: the server rejected the ${this.config.auth.description} of ${this.config.source}; renew the credentials or fix the kubeconfig user`,
          );
        }
        const delayMs = attempt > maxRetries ? undefined : this.#retryDelay(error, method, attempt);
        const deadline = scope.deadline;
        if (delayMs === undefined || (deadline !== undefined && performance.now() + delayMs >= deadline)) {
          throw attempt > 1 ? withMessage(error, `${error.message} (after ${attempt} attempts)`) : error;
        }
        this.#retried({ request, method, attempt, error, delayMs });
        span?.retry(attempt, error, delayMs);
        // A retry after no response ends early once the probe sees the server back; one the server asked for waits.
        if (error.status !== 0) await sleep(delayMs, scope);
        else if (!(await this.recovery.wait(error, delayMs, { signal: scope.signal }))) throw scope.reason;
      }
    } catch (err) {
      span?.end(err);
      throw err;
    } finally {
      if (!handedOver) this.#forget(scope);
      if (!stream && this.#observers.size > 0) {
        const seconds = (performance.now() - started) / 1000;
        this.#notify((o) => o.call, { method, path: opts.path, host: this.#host, seconds });
      }
    }
  }

  /**
   * Sends a request and reads its whole body; throws an {@link ApiError} for any non-2xx status but a `304` answering
   * {@link RequestOptions.ifNoneMatch}.
   */
  request(opts: RequestOptions): Promise<Response> {
    return this.#send(opts, false, async (res) => ({
      status: res.statusCode,
      headers: res.headers,
      body: await readAll(res.body),
    }));
  }

  /** Sends a request and parses its JSON body (`undefined` for an empty one). */
  async json(opts: RequestOptions): Promise<unknown> {
    const res = await this.request(opts);
    if (res.body.length === 0) return undefined;
    try {
      return JSON.parse(res.body.toString("utf8"));
    } catch (err) {
      const request = `${(opts.method ?? "GET").toUpperCase()} ${opts.path}`;
      throw new ApiError({
        kind: "Unknown",
        status: res.status,
        message: `${request}: the server answered ${res.status} with a body that is not JSON: ${res.body.toString("utf8", 0, 100)}`,
        request,
        cause: err,
      });
    }
  }

  /**
   * Sends a request whose body streams (a watch); the caller reads the body and must either read it to the end or
   * call `close()`. The deadline covers the wait for the response headers, not the stream.
   */
  stream(opts: RequestOptions): Promise<StreamResponse> {
    return this.#send(opts, true, async (res, scope, end) => {
      scope.endDeadline();
      // Aborted by the caller or by close(): free the connection even if no one reads the body.
      scope.signal.addEventListener("abort", end, { once: true });
      return new OpenStream(res, scope.request, end, (err) => this.#failure(err, scope, scope.request));
    });
  }

  /** Closes all connections; in-flight calls and open streams fail with an `Aborted` {@link ApiError}. */
  async close(): Promise<void> {
    this.#closed = true;
    this.recovery.close();
    for (const scope of this.#scopes) scope.abort(this.#closedError(scope.request));
    this.#h2?.close();
    await this.#pool?.destroy();
  }
}
