/**
 * HTTP/2 to one API server: every request and watch of a cluster multiplexed over one TLS connection, or a few when the
 * server's `SETTINGS_MAX_CONCURRENT_STREAMS` is reached (Go's default is 250, so 1,000 watches take four), as client-go
 * does through Go's HTTP/2 transport.
 *
 * A connection is found dead by a PING left unanswered (client-go's `ReadIdleTimeout`/`PingTimeout`), by a reset or by
 * the server's GOAWAY. A dead connection fails every stream on it with a `Network` error, which the callers' retries,
 * re-watches and relists recover from exactly as from a broken HTTP/1.1 connection; a GOAWAY only stops new streams,
 * and the ones the server had not taken are sent again on another connection.
 */
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as connectHttp2,
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
} from "node:http2";
import type { Readable } from "node:stream";
import { connect as connectTls, type SecureContext, type TLSSocket } from "node:tls";
import { untilAborted } from "../util/abort.js";

/** What the connection offers when the server did not take `h2` over ALPN. */
export const http1Only = Symbol("http1Only");

/** Where and how to connect. */
export interface H2Target {
  readonly origin: string;
  readonly secureContext: SecureContext;
  readonly rejectUnauthorized: boolean;
  readonly servername?: string | undefined;
}

/** Timers of the connections' health. */
export interface H2Timing {
  /** A PING is sent this often while a connection carries streams. */
  readonly pingIntervalMs: number;
  /** An unanswered PING fails the connection after this long. */
  readonly pingTimeoutMs: number;
  /** A connection without streams is closed after this long. */
  readonly idleMs: number;
  /** ... or after this long, when another connection has room. */
  readonly spareMs: number;
}

/** One request. */
export interface H2Request {
  readonly method: string;
  /** The path with its query. */
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body?: string | Buffer | Uint8Array | undefined;
  readonly signal: AbortSignal;
}

/** A response whose headers are in; `body` is the stream itself. */
export interface H2Response {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Readable;
  /** Ends the stream (a reset if the server has not ended it) and frees its place on the connection at once. */
  close(): void;
}

/** The error a dead connection fails its streams with; `code` is one that {@link networkError} counts as transient. */
class ConnectionError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/** The server refused a stream without processing it (a GOAWAY before it, or `REFUSED_STREAM`): safe to send again. */
class RefusedError extends Error {}

/** Sends a refused stream again at most this often before giving up. */
const maxRefusals = 3;
/** Streams assumed allowed on a connection until its server's SETTINGS arrive (RFC 9113 suggests at least 100). */
const assumedStreams = 100;

function responseHeaders(raw: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const headers: Record<string, string | string[] | undefined> = {};
  for (const key in raw) if (key.charCodeAt(0) !== 0x3a) headers[key] = raw[key];
  return headers;
}

/** One HTTP/2 connection and what is known of it. */
class Connection {
  readonly session: ClientHttp2Session;
  /** Streams open or being opened on it. */
  streams = 0;
  /** The server's limit of concurrent streams. */
  maxStreams = assumedStreams;
  /** No new streams: the server sent GOAWAY, or the connection is closing. */
  draining = false;
  readonly #timing: H2Timing;
  readonly #onGone: (c: Connection) => void;
  /** Whether another connection than this one is usable and has room. */
  readonly #spare: (c: Connection) => boolean;
  #ping: NodeJS.Timeout | undefined;
  #pingDeadline: NodeJS.Timeout | undefined;
  #idle: NodeJS.Timeout | undefined;

  constructor(
    session: ClientHttp2Session,
    timing: H2Timing,
    onGone: (c: Connection) => void,
    spare: (c: Connection) => boolean,
  ) {
    this.session = session;
    this.#timing = timing;
    this.#onGone = onGone;
    this.#spare = spare;
    const max = session.remoteSettings.maxConcurrentStreams;
    if (max !== undefined && max < 2 ** 31) this.maxStreams = max;
    session.on("remoteSettings", (settings) => {
      if (settings.maxConcurrentStreams !== undefined) this.maxStreams = settings.maxConcurrentStreams;
    });
    session.on("goaway", () => this.#drain());
    // A session's error also reaches its streams; it is handled there, and must not be an uncaught 'error' event.
    session.on("error", () => {});
    session.on("close", () => this.#gone());
    // Without streams, a connection must not keep the process alive, as an idle HTTP/1.1 keep-alive socket does not.
    session.unref();
    this.#idleSoon();
  }

  get usable(): boolean {
    return !this.draining && !this.session.closed && !this.session.destroyed;
  }

  get full(): boolean {
    return this.streams >= this.maxStreams;
  }

  /** Takes a place for a stream. */
  take(): void {
    this.streams++;
    if (this.streams === 1) {
      clearTimeout(this.#idle);
      this.#idle = undefined;
      this.session.ref();
      if (this.#timing.pingIntervalMs > 0) {
        this.#ping = setInterval(() => this.#sendPing(), this.#timing.pingIntervalMs);
        this.#ping.unref();
      }
    }
  }

  /** Gives a stream's place back. */
  give(): void {
    this.streams--;
    if (this.streams > 0) return;
    clearInterval(this.#ping);
    this.#ping = undefined;
    clearTimeout(this.#pingDeadline);
    this.#pingDeadline = undefined;
    this.session.unref();
    if (this.draining) this.session.close();
    else this.#idleSoon();
  }

  /**
   * Closes the connection once idle: soon (`spareMs`) when another connection has room for what comes next, as after a
   * burst of requests that needed more connections than the watches do; after `idleMs` when it is the last one.
   */
  #idleSoon(): void {
    const spareMs = Math.min(this.#timing.spareMs, this.#timing.idleMs);
    this.#idle = setTimeout(() => {
      if (this.streams > 0) return;
      if (this.#spare(this)) {
        this.#drain();
        return;
      }
      this.#idle = setTimeout(() => {
        if (this.streams === 0) this.#drain();
      }, this.#timing.idleMs - spareMs);
      this.#idle.unref();
    }, spareMs);
    this.#idle.unref();
  }

  /** Asks the server for a PING now, unless one is out: a request that got no answer may mean a dead connection. */
  probe(): void {
    if (this.streams > 0 && this.#timing.pingTimeoutMs > 0) this.#sendPing();
  }

  #sendPing(): void {
    if (this.#pingDeadline || this.session.destroyed) return;
    const timeoutMs = this.#timing.pingTimeoutMs;
    this.#pingDeadline = setTimeout(() => {
      this.fail(
        new ConnectionError(
          `the connection did not answer an HTTP/2 PING within ${timeoutMs} ms`,
          "KINDWATCH_H2_PING_TIMEOUT",
        ),
      );
    }, timeoutMs);
    this.#pingDeadline.unref();
    try {
      this.session.ping((err) => {
        clearTimeout(this.#pingDeadline);
        this.#pingDeadline = undefined;
        if (err && !this.session.destroyed) this.fail(err);
      });
    } catch (err) {
      clearTimeout(this.#pingDeadline);
      this.#pingDeadline = undefined;
      this.fail(err);
    }
  }

  /** Closes gracefully: the streams on it go on to their end, new ones go elsewhere. */
  #drain(): void {
    if (this.draining) return;
    this.draining = true;
    this.#onGone(this);
    if (this.streams === 0) this.session.close();
  }

  /** The connection is dead: every stream on it fails with `err`. */
  fail(err: unknown): void {
    this.draining = true;
    this.#onGone(this);
    this.session.destroy(this.streams > 0 ? (err instanceof Error ? err : new Error(String(err))) : undefined);
  }

  #gone(): void {
    this.draining = true;
    clearInterval(this.#ping);
    clearTimeout(this.#pingDeadline);
    clearTimeout(this.#idle);
    this.#onGone(this);
  }
}

/**
 * The HTTP/2 connections of one cluster and one client identity (a rotated client certificate gets a new set). The
 * first connection tells whether the server speaks h2 at all: {@link H2Connections.request} resolves to
 * {@link http1Only} when it does not, and the caller goes over HTTP/1.1 from then on.
 */
export class H2Connections {
  readonly #target: H2Target;
  readonly #timing: H2Timing;
  readonly #url: URL;
  readonly #live = new Set<Connection>();
  /** A connection being made, with the streams promised to it. */
  #pending:
    | { readonly made: Promise<Connection | typeof http1Only>; promised: number; readonly abandon: AbortController }
    | undefined;
  #closed = false;
  /** The server's stream limit as its last connection told: how many streams a connection being made will take. */
  #knownMax = assumedStreams;

  constructor(target: H2Target, timing: H2Timing) {
    this.#target = target;
    this.#timing = timing;
    this.#url = new URL(target.origin);
  }

  /** How many connections are open. */
  get connections(): number {
    return this.#live.size;
  }

  /** Sends a request; resolves once the response headers are in, or to {@link http1Only}. */
  async request(req: H2Request): Promise<H2Response | typeof http1Only> {
    for (let refusals = 0; ; refusals++) {
      const connection = await this.#connection(req.signal);
      if (connection === http1Only) return http1Only;
      try {
        return await this.#exchange(connection, req);
      } catch (err) {
        if (!(err instanceof RefusedError) || refusals + 1 >= maxRefusals || req.signal.aborted) throw err;
      }
    }
  }

  /** A connection with room for one more stream, whose place is taken. */
  async #connection(signal: AbortSignal): Promise<Connection | typeof http1Only> {
    for (const connection of this.#live) {
      if (connection.usable && !connection.full) {
        connection.take();
        return connection;
      }
    }
    if (this.#closed) throw new ConnectionError("the transport is closed", "UND_ERR_CLOSED");
    let pending = this.#pending;
    if (!pending || pending.promised >= this.#knownMax) {
      const abandon = new AbortController();
      const made = this.#connect(abandon.signal);
      const fresh = { made, promised: 0, abandon };
      pending = fresh;
      this.#pending = fresh;
      const forget = () => {
        if (this.#pending === fresh) this.#pending = undefined;
      };
      made.then(forget, forget);
    }
    pending.promised++;
    const waited = pending;
    let made: Connection | typeof http1Only;
    try {
      made = await untilAborted(waited.made, signal);
    } catch (err) {
      // Every caller gave up on a handshake that hangs: the next one must not wait on it too.
      if (signal.aborted && --waited.promised === 0 && this.#pending === waited) {
        this.#pending = undefined;
        waited.abandon.abort();
      }
      throw err;
    }
    if (made === http1Only) return made;
    if (!made.usable) return this.#connection(signal);
    if (made.full) return this.#connection(signal);
    made.take();
    return made;
  }

  async #connect(abandon: AbortSignal): Promise<Connection | typeof http1Only> {
    const url = this.#url;
    const target = this.#target;
    let timer: NodeJS.Timeout | undefined;
    let onAbandon: (() => void) | undefined;
    // As undici's connect timeout: a handshake that hangs must not hold every call waiting for this connection.
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new ConnectionError(`no connection within ${connectTimeoutMs} ms`, "UND_ERR_CONNECT_TIMEOUT")),
        connectTimeoutMs,
      );
      timer.unref();
      onAbandon = () => reject(new ConnectionError("abandoned", "UND_ERR_ABORTED"));
      abandon.addEventListener("abort", onAbandon, { once: true });
    });
    let socket: TLSSocket | undefined;
    let session: ClientHttp2Session | undefined;
    try {
      return await Promise.race([
        this.#handshake(
          url,
          target,
          (s) => (socket = s),
          (s) => (session = s),
        ),
        timedOut,
      ]);
    } catch (err) {
      session?.destroy();
      socket?.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
      if (onAbandon) abandon.removeEventListener("abort", onAbandon);
    }
  }

  async #handshake(
    url: URL,
    target: H2Target,
    onSocket: (s: TLSSocket) => void,
    onSession: (s: ClientHttp2Session) => void,
  ): Promise<Connection | typeof http1Only> {
    const socket = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connectTls({
        host: url.hostname.replace(/^\[|\]$/g, ""),
        port: Number(url.port || 443),
        secureContext: target.secureContext,
        rejectUnauthorized: target.rejectUnauthorized,
        servername: target.servername ?? (/^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname),
        ALPNProtocols: ["h2", "http/1.1"],
      });
      onSocket(s);
      s.once("secureConnect", () => {
        s.removeListener("error", reject);
        resolve(s);
      });
      s.once("error", reject);
    });
    if (socket.alpnProtocol !== "h2") {
      socket.destroy();
      return http1Only;
    }
    // The session hears the socket's failures and fails its streams with them; this keeps them from being uncaught.
    socket.on("error", () => {});
    const session = connectHttp2(target.origin, {
      createConnection: () => socket,
      settings: { enablePush: false, initialWindowSize: streamWindow },
    });
    onSession(session);
    // Go's transport takes a connection window of 1 GiB: many streams reading at once must not starve each other.
    session.setLocalWindowSize(connectionWindow);
    await new Promise<void>((resolve, reject) => {
      const ready = () => {
        session.removeListener("error", reject);
        resolve();
      };
      session.once("remoteSettings", ready);
      session.once("error", reject);
    });
    const connection = new Connection(
      session,
      this.#timing,
      (c) => this.#live.delete(c),
      (c) => {
        for (const other of this.#live) if (other !== c && other.usable && !other.full) return true;
        return false;
      },
    );
    this.#knownMax = connection.maxStreams;
    if (this.#closed) {
      session.destroy();
      throw new ConnectionError("the transport is closed", "UND_ERR_CLOSED");
    }
    this.#live.add(connection);
    return connection;
  }

  #exchange(connection: Connection, req: H2Request): Promise<H2Response> {
    const headers: OutgoingHttpHeaders = { ...req.headers, ":method": req.method, ":path": req.path };
    const hasBody = req.body !== undefined;
    if (hasBody) headers["content-length"] = Buffer.byteLength(req.body as string | Buffer);
    let stream: ClientHttp2Stream;
    try {
      stream = connection.session.request(headers, { endStream: !hasBody, signal: req.signal });
    } catch (err) {
      connection.give();
      // The session closed between the choice and the request: nothing was sent.
      return Promise.reject(connection.usable ? err : new RefusedError("the connection closed before the request"));
    }
    // Whoever reads the body hears its failure through it; a stream nobody reads any more must not throw uncaught.
    stream.on("error", () => {});
    const giveBack = placeGiver(connection);
    stream.once("close", giveBack);
    if (hasBody) stream.end(req.body);
    return awaitResponse(connection, stream, req.signal, giveBack);
  }

  /** Ends every connection: streams on them fail. */
  close(): void {
    this.#closed = true;
    for (const connection of [...this.#live]) {
      connection.fail(new ConnectionError("the transport is closed", "UND_ERR_CLOSED"));
    }
  }

  /** Stops new streams; the open ones go on to their end (a rotated client certificate). */
  retire(): void {
    this.#closed = true;
    for (const connection of [...this.#live]) {
      connection.draining = true;
      if (connection.streams === 0) connection.session.close();
    }
  }
}

/** Gives a stream's place on `connection` back, once however often it is called. */
function placeGiver(connection: Connection): () => void {
  let given = false;
  return () => {
    if (given) return;
    given = true;
    connection.give();
  };
}

/**
 * The response to `stream`'s request. Module-level, apart from the request: a watch's response lives as long as the
 * watch, and must not keep the request's headers or these listeners alive.
 */
function awaitResponse(
  connection: Connection,
  stream: ClientHttp2Stream,
  signal: AbortSignal,
  giveBack: () => void,
): Promise<H2Response> {
  return new Promise<H2Response>((resolve, reject) => {
    // Closed before any response: refused by the server (REFUSED_STREAM, or past a GOAWAY's last stream), nothing
    // processed, or else broken with the connection.
    const failed = (err: unknown) =>
      stream.rstCode === constants.NGHTTP2_REFUSED_STREAM ? new RefusedError("the server refused the stream") : err;
    const onError = (err: unknown) => {
      stream.removeListener("response", onResponse);
      // Given up before any answer (the caller's deadline): the connection may be half-open; a PING tells soon.
      if (signal.aborted) connection.probe();
      reject(failed(err));
    };
    const onClose = () => {
      stream.removeListener("response", onResponse);
      stream.removeListener("error", onError);
      reject(failed(new ConnectionError("the stream closed before its response", "ECONNRESET")));
    };
    const onResponse = (raw: IncomingHttpHeaders) => {
      stream.removeListener("error", onError);
      stream.removeListener("close", onClose);
      resolve(h2Response(raw, stream, giveBack));
    };
    stream.once("response", onResponse);
    stream.once("error", onError);
    stream.once("close", onClose);
  });
}

/**
 * The answer on `stream`, once its headers came: a function of its own so that the response, which a watch holds for
 * its whole life, keeps none of {@link awaitResponse}'s listeners and promise alive. `giveBack` frees the stream's place
 * on its connection.
 */
function h2Response(raw: IncomingHttpHeaders, stream: ClientHttp2Stream, giveBack: () => void): H2Response {
  return {
    statusCode: Number(raw[":status"]),
    headers: responseHeaders(raw),
    body: stream,
    close: () => {
      stream.destroy();
      // Its place is free at once: the reset goes out before any stream opened after it.
      giveBack();
    },
  };
}

/** How long a TLS handshake and the server's first SETTINGS may take (undici's connect timeout). */
const connectTimeoutMs = 10_000;
/** A stream's receive window (Go's transport: 4 MiB): a list of thousands of objects in few round trips. */
const streamWindow = 4 * 1024 * 1024;
/** The connection's receive window, over all its streams (Go's transport: 1 GiB). */
const connectionWindow = 1024 * 1024 * 1024;
