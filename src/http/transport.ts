/**
 * One keep-alive connection pool per cluster, with authentication, client-side rate limiting, `429`/`Retry-After`,
 * retries of idempotent reads on network errors, timeouts, and `AbortSignal` on every call. Built on undici, whose
 * pool is markedly faster than `node:https` for many small requests and long-lived watch streams alike.
 */
import { type Dispatcher, Pool } from "undici";
import { ConfigError } from "../config/errors.js";
import type { AuthCredentials, ClusterConfig } from "../config/types.js";
import { ApiError, errorFromStatus } from "./errors.js";
import { TokenBucket } from "./ratelimit.js";

/** Query parameters; `undefined` values are left out. */
export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

/** One request to the API server. */
export interface RequestOptions {
  readonly method?: string;
  /** The path below the server URL, e.g. `/api/v1/namespaces/default/pods`. */
  readonly path: string;
  readonly query?: Query;
  /** A JSON value (serialized here), or a string/Buffer sent as it is. */
  readonly body?: unknown;
  readonly contentType?: string;
  readonly accept?: string;
  readonly signal?: AbortSignal;
  /** Whole-request deadline in ms; default the transport's (30 s). 0: none, for watches. */
  readonly timeoutMs?: number;
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
  readonly body: AsyncIterable<Buffer>;
  /** Ends the stream and releases its connection. */
  close(): void;
}

/** Tuning of a {@link Transport}. */
export interface TransportOptions {
  /** Sent as `User-Agent`; default `kindwatch/VERSION (PLATFORM) node/VERSION`. */
  readonly userAgent?: string;
  /**
   * Client-side rate limit in requests per second. Default "auto": 50 QPS with a burst of 100 until the server shows it
   * does API Priority and Fairness (its responses carry `X-Kubernetes-PF-*` headers), then off, as the server protects
   * itself better than a client can. 0 or a negative number: off.
   */
  readonly qps?: number | "auto";
  readonly burst?: number;
  /** Default whole-request deadline for non-streaming requests; default 30 s. */
  readonly timeoutMs?: number;
  /** How many times a `429` (any verb) or a network error (reads only) is retried; default 5. */
  readonly maxRetries?: number;
  /** Most connections for ordinary requests; default 32. Watches have a pool of their own, one connection each. */
  readonly connections?: number;
}

const version = "0.1.0";
const defaultUserAgent = `kindwatch/${version} (${process.platform}/${process.arch}) node/${process.version}`;
const idempotent = new Set(["GET", "HEAD", "OPTIONS"]);
const maxRetryAfterSeconds = 30;

function buildQuery(query: Query | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.append(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : "";
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** Turns whatever undici or Node threw into an {@link ApiError} with a kind. */
function networkError(err: unknown, request: string, signal: AbortSignal | undefined, timedOut: boolean): ApiError {
  if (err instanceof ApiError) return err;
  const e = err as { code?: string; message?: string; name?: string };
  if (timedOut || e.code === "UND_ERR_HEADERS_TIMEOUT" || e.code === "UND_ERR_BODY_TIMEOUT") {
    return new ApiError({ kind: "Timeout", status: 0, message: `${request} timed out`, request, cause: err });
  }
  if (signal?.aborted || e.name === "AbortError" || e.code === "UND_ERR_ABORTED") {
    return new ApiError({ kind: "Aborted", status: 0, message: `${request} was aborted`, request, cause: err });
  }
  const code = e.code ?? "";
  // OpenSSL's verification codes: CERT_*, *_CERT_*, and UNABLE_TO_VERIFY_LEAF_SIGNATURE / UNABLE_TO_GET_ISSUER_CERT*.
  const tls = code.startsWith("ERR_TLS") || code.includes("CERT") || code.startsWith("UNABLE_TO_");
  const kind = networkCodes.has(code) || tls ? "Network" : "Unknown";
  return new ApiError({ kind, status: 0, message: `${request}: ${e.message ?? String(err)}`, request, cause: err });
}

function retryAfterMs(headers: Response["headers"], attempt: number): number {
  const raw = headers["retry-after"];
  const seconds = Number(Array.isArray(raw) ? raw[0] : raw);
  const base = Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, maxRetryAfterSeconds) * 1000 : 0;
  return base || backoffMs(attempt);
}

function backoffMs(attempt: number): number {
  const cap = Math.min(200 * 2 ** attempt, 5000);
  return cap / 2 + Math.random() * (cap / 2);
}

/** Sends requests to one cluster. Create one per cluster and share it; {@link close} it when done. */
export class Transport {
  readonly config: ClusterConfig;
  readonly #origin: string;
  readonly #basePath: string;
  readonly #options: TransportOptions;
  readonly #userAgent: string;
  readonly #limiter: TokenBucket | undefined;
  readonly #limiterAuto: boolean;
  #pools: { requests: Pool; streams: Pool };
  #poolCert: string | undefined;
  #closed = false;

  constructor(config: ClusterConfig, options: TransportOptions = {}) {
    this.config = config;
    const url = new URL(config.server);
    this.#origin = url.origin;
    this.#basePath = url.pathname.replace(/\/+$/, "");
    this.#options = options;
    this.#userAgent = options.userAgent ?? defaultUserAgent;
    const qps = options.qps ?? "auto";
    this.#limiterAuto = qps === "auto";
    this.#limiter =
      qps === "auto"
        ? new TokenBucket(50, options.burst ?? 100)
        : qps > 0
          ? new TokenBucket(qps, options.burst ?? qps)
          : undefined;
    this.#pools = this.#newPools(config.tls.cert, config.tls.key);
    this.#poolCert = config.tls.cert;
  }

  /**
   * Two pools: a bounded one for ordinary requests, since a burst of parallel requests on fresh connections spends its
   * time in TLS handshakes, and an unbounded one for watches, each of which holds its connection for minutes.
   */
  #newPools(cert: string | undefined, key: string | undefined): { requests: Pool; streams: Pool } {
    const tls = this.config.tls;
    const pool = (connections: number | null) =>
      new Pool(this.#origin, {
        connect: {
          ...(tls.ca ? { ca: tls.ca } : {}),
          ...(cert && key ? { cert, key } : {}),
          rejectUnauthorized: !tls.insecureSkipVerify,
          ...(tls.serverName ? { servername: tls.serverName } : {}),
        },
        connections,
        keepAliveTimeout: 30_000,
        // Watches stay open for minutes with long quiet spells; deadlines are per request instead.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
    return { requests: pool(this.#options.connections ?? 32), streams: pool(null) };
  }

  /** Rotated client certificates (exec plugins) need pools whose connections present the new one. */
  #poolFor(creds: AuthCredentials, stream: boolean): Pool {
    if (creds.cert && creds.key && creds.cert !== this.#poolCert) {
      const old = this.#pools;
      this.#pools = this.#newPools(creds.cert, creds.key);
      this.#poolCert = creds.cert;
      void old.requests.close();
      void old.streams.close();
    }
    return stream ? this.#pools.streams : this.#pools.requests;
  }

  #headers(opts: RequestOptions, creds: AuthCredentials, hasBody: boolean): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = {
      accept: opts.accept ?? "application/json",
      "user-agent": this.#userAgent,
    };
    if (hasBody) headers["content-type"] = opts.contentType ?? "application/json";
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

  /** Sends with retries; `consume` turns a 2xx response into the result, inside the retry loop. */
  async #send<T>(
    opts: RequestOptions,
    stream: boolean,
    consume: (res: Dispatcher.ResponseData) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new ApiError({ kind: "Aborted", status: 0, message: "the transport is closed" });
    const method = (opts.method ?? "GET").toUpperCase();
    const path = `${this.#basePath}${opts.path}${buildQuery(opts.query)}`;
    const request = `${method} ${opts.path}`;
    const body =
      opts.body === undefined
        ? undefined
        : typeof opts.body === "string" || Buffer.isBuffer(opts.body)
          ? opts.body
          : JSON.stringify(opts.body);
    const maxRetries = this.#options.maxRetries ?? 5;
    const timeoutMs = opts.timeoutMs ?? (stream ? 0 : (this.#options.timeoutMs ?? 30_000));
    let reauthenticated = false;
    for (let attempt = 0; ; attempt++) {
      const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
      const signals = [opts.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
      const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
      try {
        await this.#limiter?.take(signal);
        const creds = await this.config.auth.credentials(signal);
        const res = await this.#poolFor(creds, stream).request({
          method: method as "GET",
          path,
          headers: this.#headers(opts, creds, body !== undefined),
          ...(body !== undefined ? { body } : {}),
          ...(signal ? { signal } : {}),
        });
        if (this.#limiterAuto && res.headers["x-kubernetes-pf-flowschema-uid"] !== undefined) this.#limiter?.disable();
        if (res.statusCode >= 200 && res.statusCode < 300) return await consume(res);
        const text = await res.body.text();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not a Status: keep the text for the message
        }
        const error = errorFromStatus(res.statusCode, parsed, request);
        // The server did not process a throttled request, so any verb may be sent again.
        if (res.statusCode === 429 && attempt < maxRetries) {
          await sleep(retryAfterMs(res.headers, attempt), opts.signal);
          continue;
        }
        if (res.statusCode === 401 && !reauthenticated) {
          reauthenticated = true;
          this.config.auth.invalidate(creds);
          continue;
        }
        throw error;
      } catch (err) {
        // Credentials that cannot be had (exec plugin missing, token file unreadable) are for the user to fix.
        if (err instanceof ConfigError) throw err;
        const error = networkError(err, request, opts.signal, timeout?.aborted === true && !opts.signal?.aborted);
        if (error.kind === "Network" && idempotent.has(method) && attempt < maxRetries) {
          await sleep(backoffMs(attempt), opts.signal).catch(() => {
            throw networkError(opts.signal?.reason, request, opts.signal, false);
          });
          continue;
        }
        throw error;
      }
    }
  }

  /** Sends a request and reads its whole body; throws an {@link ApiError} for any non-2xx status. */
  request(opts: RequestOptions): Promise<Response> {
    return this.#send(opts, false, async (res) => ({
      status: res.statusCode,
      headers: res.headers,
      body: Buffer.from(await res.body.arrayBuffer()),
    }));
  }

  /** Sends a request and parses its JSON body. */
  async json(opts: RequestOptions): Promise<unknown> {
    const res = await this.request(opts);
    return res.body.length === 0 ? undefined : JSON.parse(res.body.toString("utf8"));
  }

  /** Sends a request whose body streams (a watch); the caller reads it and must call `close()` or drain it. */
  stream(opts: RequestOptions): Promise<StreamResponse> {
    return this.#send(opts, true, async (res) => ({
      status: res.statusCode,
      headers: res.headers,
      body: res.body,
      close: () => res.body.destroy(),
    }));
  }

  /** Closes all connections; in-flight streams end. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([this.#pools.requests.destroy(), this.#pools.streams.destroy()]);
  }
}
