/**
 * The HTTP sink: CloudEvents over the HTTP protocol binding, in binary, structured or batched content mode, through a
 * kept-alive undici pool (the transport's own lazily loaded parts: importing kindwatch does not load undici's index).
 * undici rather than `node:http`: its pool keeps connections alive and reuses them across sends without an Agent to
 * tune, takes the TLS options per origin, and gives up a request on an AbortSignal at any stage (connecting, sending,
 * reading), which the sink's timeout and the exporter's signal both need.
 */
import { readFileSync, statSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { CloudEvent, type CloudEventV1, CONSTANTS, HTTP } from "cloudevents";
import { type Pool, undici } from "../http/undici.js";
import { type Delivery, type Sink, SinkError } from "./types.js";

/**
 * How events travel (the CloudEvents HTTP binding's content modes): `binary` puts the attributes in `ce-*` headers and
 * the data in the body; `structured` sends the whole event as `application/cloudevents+json`; `batch` sends up to
 * `maxBatch` events as one `application/cloudevents-batch+json` array.
 */
export type HttpSinkMode = "binary" | "structured" | "batch";

/** TLS for an `https` URL. Files are read once, when the sink is made. */
export interface HttpSinkTls {
  /** PEM file of the CA(s) that signed the receiver's certificate (default: Node's bundled roots). */
  readonly caFile?: string | undefined;
  /** PEM file of a client certificate, for receivers that authenticate the sender by certificate. */
  readonly certFile?: string | undefined;
  /** PEM file of the client certificate's key. */
  readonly keyFile?: string | undefined;
  /** Skips verifying the receiver's certificate: for tests and trusted networks only. */
  readonly insecureSkipVerify?: boolean | undefined;
}

/** Options of {@link HttpSink}. */
export interface HttpSinkOptions {
  /** Where to POST events; credentials in it (`https://user:pass@host/`) become a Basic `Authorization` header. */
  readonly url: string;
  /** The content mode (default `binary`). */
  readonly mode?: HttpSinkMode | undefined;
  /** Events per request in `batch` mode (default 100); binary and structured modes send one event per request. */
  readonly maxBatch?: number | undefined;
  /** Headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /**
   * A file holding a bearer token (a mounted Secret, a projected service-account token): sent as
   * `Authorization: Bearer <token>`.
   */
  readonly bearerTokenFile?: string | undefined;
  /** A file of header lines (`Name: value`), e.g. `Authorization: Basic ...` or `X-Api-Key: ...`. */
  readonly headersFile?: string | undefined;
  /** TLS options for an `https` URL. */
  readonly tls?: HttpSinkTls | undefined;
  /** How long one request may take, from connecting to reading the answer (default 30 s). */
  readonly timeoutMs?: number | undefined;
}

/** How long a request may take by default: a receiver that has not answered in this time is treated as down. */
const defaultTimeoutMs = 30_000;
/** How many events a batched request carries by default. */
const defaultMaxBatch = 100;
/** How much of an error answer's body goes into the message. */
const bodyExcerptChars = 200;

/** Headers whose values are credentials; never in messages. */
type AuthHeaders = Readonly<Record<string, string>>;

/**
 * Credentials read from a file, again whenever the file changed (its inode, size or modification time: a Secret
 * volume's symlink swap and an in-place rewrite both show) and whenever the receiver answers 401, so a rotated
 * token is used without a restart. While the file is missing or empty (mid-rotation), the last credentials stay.
 */
class AuthFile {
  readonly #path: string;
  readonly #parse: (text: string) => AuthHeaders;
  #version: string;
  #headers: AuthHeaders;

  constructor(path: string, parse: (text: string) => AuthHeaders) {
    this.#path = path;
    this.#parse = parse;
    let text: string;
    let version: string;
    try {
      version = versionOf(statSync(path, { bigint: true }));
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new Error(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    const headers = parse(text);
    if (Object.keys(headers).length === 0) throw new Error(`${path} holds no credentials`);
    this.#version = version;
    this.#headers = headers;
  }

  /** The current credentials: read again if the file changed since, or always when `force` (after a 401). */
  async headers(force = false): Promise<AuthHeaders> {
    try {
      const version = versionOf(await stat(this.#path, { bigint: true }));
      if (!force && version === this.#version) return this.#headers;
      const headers = this.#parse(await readFile(this.#path, "utf8"));
      if (Object.keys(headers).length > 0) {
        this.#headers = headers;
        this.#version = version;
      }
    } catch {
      // Rotation replaces the file; until the new one is there, the last credentials are the best there are.
    }
    return this.#headers;
  }
}

function versionOf(s: { ino: bigint; size: bigint; mtimeNs: bigint }): string {
  return `${s.ino}:${s.size}:${s.mtimeNs}`;
}

function bearerToken(text: string): AuthHeaders {
  const token = text.trim();
  return token ? { authorization: `Bearer ${token}` } : {};
}

function headerLines(text: string): AuthHeaders {
  const headers: Record<string, string> = {};
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    // The line is not shown: it may hold the secret.
    if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
      throw new Error(`line ${index + 1} is not "Name: value"`);
    }
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

/**
 * A `ce-*` header value as the HTTP binding wants it: space, `"`, `%` and everything outside printable ASCII
 * percent-encoded (UTF-8), so any attribute value is a valid header and decodes back to itself.
 */
function headerValue(value: unknown): string {
  const text = typeof value === "string" ? value : String(value);
  return text.replace(/[^\x21\x23\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));
}

/** The whole event, as the SDK serializes it (plain `CloudEventV1` objects are wrapped, without validating them). */
function sdkEvent(event: CloudEventV1<unknown>): CloudEvent<unknown> {
  return event instanceof CloudEvent ? event : new CloudEvent(event, false);
}

interface Encoded {
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array;
}

function encode(mode: HttpSinkMode, batch: readonly Delivery[]): Encoded {
  if (mode === "batch") {
    return {
      headers: { "content-type": `${CONSTANTS.MIME_CE_BATCH}; charset=utf-8` },
      body: JSON.stringify(batch.map((d) => sdkEvent(d.event))),
    };
  }
  const [delivery] = batch;
  if (!delivery) throw new Error("no event to send");
  if (mode === "structured") {
    const message = HTTP.structured(sdkEvent(delivery.event));
    return { headers: { "content-type": CONSTANTS.DEFAULT_CE_CONTENT_TYPE }, body: String(message.body) };
  }
  const message = HTTP.binary(delivery.event);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value === undefined) continue;
    headers[name] = name.startsWith(CONSTANTS.EXTENSIONS_PREFIX) ? headerValue(value) : String(value);
  }
  const body = message.body;
  return {
    headers,
    body:
      body === undefined ? "" : typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  };
}

/** IMF-fixdate and the two obsolete forms HTTP still accepts (RFC 850, asctime). */
const httpDate =
  /^(?:[A-Za-z]{3,9}, \d{2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{2}:\d{2}:\d{2} GMT|[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})$/;

/** `Retry-After` (delay-seconds or an HTTP-date) in milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only the HTTP-date forms: Date.parse alone reads "-5" as a year.
  if (!httpDate.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The first characters of an error answer's body, on one line; reading stops early on a large body. */
async function excerpt(body: AsyncIterable<Buffer | string>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    chunks.push(bytes);
    size += bytes.length;
    // Four bytes per character at most: enough for the excerpt whatever the text.
    if (size >= bodyExcerptChars * 4) break;
  }
  const text = [...Buffer.concat(chunks).toString("utf8")].slice(0, bodyExcerptChars).join("");
  return text.replace(/\s+/g, " ").trim();
}

function codeOf(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === "string" ? code : "";
}

/** The URL as logs may show it: no user, password, query or fragment (any of which may carry a secret). */
function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/**
 * A {@link Sink} that POSTs CloudEvents to an HTTP receiver (a Knative broker, an Event Grid or webhook endpoint, any
 * server of the CloudEvents HTTP binding). A 2xx acknowledges the request's events; 408, 429, 5xx, a timeout and a
 * failed connection are retryable (`Retry-After` honoured); any other answer is not, and its message names the URL,
 * the status and the start of the body. A 401 makes the sink read its credentials file again and resend at once if
 * they changed; with a credentials file a 401 stays retryable (the file may yet be rotated), without one it is not.
 * Credentials never appear in its name or its errors.
 *
 * @example
 * ```ts
 * const sink = new HttpSink({ url: "https://events.example.com/k8s", mode: "batch", bearerTokenFile: "/var/run/secrets/sink/token" });
 * await sink.send([{ event, key: uid }], AbortSignal.timeout(60_000));
 * await sink.close();
 * ```
 */
export class HttpSink implements Sink {
  readonly name: string;
  readonly maxBatch: number;
  readonly #path: string;
  readonly #mode: HttpSinkMode;
  readonly #timeoutMs: number;
  readonly #headers: Readonly<Record<string, string>>;
  readonly #auth: AuthFile | undefined;
  readonly #pool: Pool;

  constructor(options: HttpSinkOptions) {
    const url = new URL(options.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`http sink: ${displayUrl(url)} is not an http or https URL`);
    }
    this.name = `http ${displayUrl(url)}`;
    this.#path = `${url.pathname}${url.search}`;
    this.#mode = options.mode ?? "binary";
    const maxBatch = options.maxBatch ?? defaultMaxBatch;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) {
      throw new Error(`${this.name}: maxBatch must be a positive integer`);
    }
    this.maxBatch = this.#mode === "batch" ? maxBatch : 1;
    this.#timeoutMs = options.timeoutMs ?? defaultTimeoutMs;
    if (options.bearerTokenFile !== undefined && options.headersFile !== undefined) {
      throw new Error(`${this.name}: give a bearer token file or a headers file, not both`);
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    if (url.username || url.password) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    }
    this.#headers = headers;
    const file = options.bearerTokenFile ?? options.headersFile;
    try {
      this.#auth =
        file === undefined ? undefined : new AuthFile(file, options.bearerTokenFile ? bearerToken : headerLines);
    } catch (err) {
      throw new Error(`${this.name}: credentials file: ${(err as Error).message}`);
    }
    this.#pool = new (undici().Pool)(url.origin, { connect: this.#tls(options.tls) });
  }

  #tls(tls: HttpSinkTls | undefined): { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean } {
    const read = (what: string, path: string | undefined) => {
      if (path === undefined) return {};
      try {
        return { [what]: readFileSync(path, "utf8") };
      } catch (err) {
        throw new Error(`${this.name}: cannot read the TLS ${what} file ${path} (${codeOf(err) || String(err)})`);
      }
    };
    return {
      ...read("ca", tls?.caFile),
      ...read("cert", tls?.certFile),
      ...read("key", tls?.keyFile),
      rejectUnauthorized: tls?.insecureSkipVerify !== true,
    };
  }

  async send(batch: readonly Delivery[], signal: AbortSignal): Promise<void> {
    if (batch.length === 0) return;
    if (batch.length > this.maxBatch) {
      throw new SinkError(`${this.name}: ${batch.length} events in one send, at most ${this.maxBatch} go in one`, {
        retryable: false,
      });
    }
    let message: Encoded;
    try {
      message = encode(this.#mode, batch);
    } catch (err) {
      const ids = batch.map((d) => d.event.id).join(", ");
      throw new SinkError(`${this.name}: cannot encode event ${ids}: ${(err as Error).message}`, {
        retryable: false,
        cause: err,
      });
    }
    const auth = (await this.#auth?.headers()) ?? {};
    const answer = await this.#post(message, auth, signal);
    if (answer.status === 401 && this.#auth) {
      const fresh = await this.#auth.headers(true);
      if (!sameHeaders(fresh, auth)) return this.#settle(await this.#post(message, fresh, signal));
    }
    this.#settle(answer);
  }

  #settle(answer: Answer): void {
    const { status } = answer;
    if (status >= 200 && status < 300) return;
    const body = answer.excerpt ? `: ${answer.excerpt}` : "";
    const message = `${this.name}: ${status}${body}`;
    const retryable = status === 408 || status === 429 || status >= 500 || (status === 401 && this.#auth !== undefined);
    const after = status === 429 || status === 503 ? answer.retryAfterMs : undefined;
    throw new SinkError(message, { retryable, retryAfterMs: after });
  }

  async #post(message: Encoded, auth: AuthHeaders, signal: AbortSignal): Promise<Answer> {
    if (signal.aborted) throw this.#aborted(signal);
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`no answer within ${this.#timeoutMs} ms`));
    }, this.#timeoutMs);
    const onAbort = () => controller.abort(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const response = await this.#pool.request({
        path: this.#path,
        method: "POST",
        headers: { ...this.#headers, ...auth, ...message.headers },
        body: message.body,
        signal: controller.signal,
      });
      const status = response.statusCode;
      if (status >= 200 && status < 300) {
        await response.body.dump();
        return { status };
      }
      return {
        status,
        excerpt: await excerpt(response.body),
        retryAfterMs: retryAfterMs(response.headers["retry-after"]),
      };
    } catch (err) {
      if (signal.aborted) throw this.#aborted(signal);
      if (timedOut) {
        throw new SinkError(`${this.name}: no answer within ${this.#timeoutMs} ms`, { retryable: true, cause: err });
      }
      const code = codeOf(err);
      const text = err instanceof Error ? err.message : String(err);
      const detail = code && !text.includes(code) ? `${code}: ${text}` : text;
      throw new SinkError(`${this.name}: ${detail}`, { retryable: true, cause: err });
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
    }
  }

  #aborted(signal: AbortSignal): SinkError {
    return new SinkError(`${this.name}: send given up (aborted)`, { retryable: true, cause: signal.reason });
  }

  async close(): Promise<void> {
    await this.#pool.destroy();
  }
}

interface Answer {
  readonly status: number;
  readonly excerpt?: string;
  readonly retryAfterMs?: number | undefined;
}

function sameHeaders(a: AuthHeaders, b: AuthHeaders): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
