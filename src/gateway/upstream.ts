/**
 * Proxying to a route's upstreams: per-route timeouts, ordered fallback while nothing has reached the client, a circuit
 * breaker per upstream, and response bodies streamed chunk by chunk.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { Agent, request, errors as undiciErrors } from "undici";
import { sendError } from "./errors.js";
import type { RouteSpec, UpstreamSpec } from "./state.js";

/** Defaults of the per-route timeouts and the breaker. */
export const upstreamDefaults = {
  connectMs: 5_000,
  firstByteMs: 60_000,
  totalMs: 600_000,
  breakerFailures: 5,
  breakerOpenMs: 30_000,
} as const;

/** closed: requests go; open: none go until `openMs` has passed; half-open: one probe goes and decides. */
export type BreakerState = "closed" | "open" | "half-open";

/** What `/admin/v1/state` shows of a breaker. */
export interface BreakerStatus {
  readonly url: string;
  readonly state: BreakerState;
  readonly consecutiveFailures: number;
}

/** A circuit breaker: opens after `threshold` consecutive failures, lets one probe through after `openMs`. */
export class Breaker {
  #state: BreakerState = "closed";
  #failures = 0;
  #openedAt = 0;
  #probing = false;
  readonly threshold: number;
  readonly openMs: number;

  constructor(threshold: number, openMs: number) {
    this.threshold = threshold;
    this.openMs = openMs;
  }

  /** The state now: an open breaker whose time is up is half-open. */
  state(now = Date.now()): BreakerState {
    if (this.#state === "open" && now - this.#openedAt >= this.openMs) this.#state = "half-open";
    return this.#state;
  }

  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** Whether a request may go now; in half-open, only the one probe may, until it ends. */
  acquire(now = Date.now()): boolean {
    const state = this.state(now);
    if (state === "closed") return true;
    if (state === "open" || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  /** The upstream answered. */
  success(): void {
    this.#state = "closed";
    this.#failures = 0;
    this.#probing = false;
  }

  /** The upstream failed: refused, timed out, or answered 5xx. */
  failure(now = Date.now()): void {
    this.#failures++;
    if (this.#state === "half-open" || this.#failures >= this.threshold) {
      this.#state = "open";
      this.#openedAt = now;
    }
    this.#probing = false;
  }

  /** The request ended without saying anything about the upstream (the client went away). */
  release(): void {
    this.#probing = false;
  }
}

/** The breakers of every route's upstreams; one whose upstream or settings changed starts afresh. */
export class Breakers {
  readonly #byRoute = new Map<string, readonly { url: string; breaker: Breaker }[]>();

  /** The breakers of `route`'s upstreams, kept across changes for upstreams whose URL and settings did not change. */
  sync(route: RouteSpec): void {
    const old = this.#byRoute.get(route.name) ?? [];
    const next = route.upstreams.map((u) => {
      const threshold = u.breaker?.failures ?? upstreamDefaults.breakerFailures;
      const openMs = u.breaker?.openMs ?? upstreamDefaults.breakerOpenMs;
      const kept = old.find((o) => o.url === u.url)?.breaker;
      const same = kept && kept.threshold === threshold && kept.openMs === openMs;
      return { url: u.url, breaker: same ? kept : new Breaker(threshold, openMs) };
    });
    this.#byRoute.set(route.name, next);
  }

  /** Forgets the breakers of routes not in `names`. */
  retain(names: ReadonlySet<string>): void {
    for (const name of this.#byRoute.keys()) if (!names.has(name)) this.#byRoute.delete(name);
  }

  of(route: string, index: number): Breaker | undefined {
    return this.#byRoute.get(route)?.[index]?.breaker;
  }

  status(route: RouteSpec, now = Date.now()): BreakerStatus[] {
    return route.upstreams.map((u, i) => {
      const b = this.of(route.name, i);
      return { url: u.url, state: b?.state(now) ?? "closed", consecutiveFailures: b?.consecutiveFailures ?? 0 };
    });
  }
}

/**
 * Watches a streamed answer as it passes (the llm helper's SseRelay has this shape): returns the bytes to write for each
 * upstream chunk, and at the end the bytes that close the answer (an SSE error event when the upstream was cut).
 */
export interface ResponseRelay {
  /**
   * The relay holds the whole body and gives it at `end` (a JSON answer): the head waits for it too, so that `end` can
   * add headers and change the body (its `content-length` is then the tail's). A cut before the end is a 502, as
   * nothing has reached the client.
   */
  readonly whole?: boolean;
  push(chunk: Uint8Array): Uint8Array;
  end(err?: Error): { tail: Uint8Array; headers?: Readonly<Record<string, string>> };
  /**
   * Awaited after a clean `end`, before the answer's last bytes go out: what must be in place once the client sees the
   * answer end (a session's turn, which the client's next request reads).
   */
  beforeEnd?(): Promise<void>;
}

/** What one request sends upstream; the body is whole so that a fallback can send it again. */
export interface UpstreamRequest {
  readonly route: RouteSpec;
  readonly method: string;
  /** Path and query as the client sent them; appended to the upstream URL's own path. */
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body: Uint8Array | undefined;
  /** Called with the chosen answer's status, headers and upstream URL; a relay it returns sees the body pass. */
  readonly relayFor?: (status: number, headers: IncomingHttpHeaders, upstream: string) => ResponseRelay | undefined;
  /** Headers the gateway adds to whatever it answers (over the upstream's). */
  readonly answerHeaders?: Readonly<Record<string, string>>;
  /**
   * Called before each attempt on an upstream with the headers it sends (spans inject their context there: attempts go
   * one after another, so each sends what was injected last); the function it returns is called when the attempt ends.
   */
  readonly attempt?: (
    upstream: UpstreamSpec,
    method: string,
    headers: Record<string, string | string[]>,
  ) => (end: AttemptEnd) => void;
}

/** How one upstream attempt ended: its status, or the error that ended it; the body bytes relayed to the client. */
export interface AttemptEnd {
  readonly status?: number;
  readonly error?: unknown;
  readonly bytes?: number;
}

/** Headers that describe one connection, not the message (RFC 9110 7.6.1), and are never forwarded. */
const hopByHop = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** The client's headers as sent upstream: without hop-by-hop ones, the host, or the header that carried the key. */
export function upstreamHeaders(req: IncomingMessage, route: RouteSpec): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connectionListed = new Set(
    String(req.headers.connection ?? "")
      .split(",")
      .map((s) => s.trim().toLowerCase()),
  );
  const keyHeader = route.auth ? (route.auth.header ?? "authorization") : undefined;
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || hopByHop.has(name) || connectionListed.has(name)) continue;
    // The gateway answered any `Expect: 100-continue` itself, and has the body whole.
    if (name === "host" || name === "content-length" || name === "expect" || name === keyHeader) continue;
    out[name] = value;
  }
  const forwardedFor = req.headers["x-forwarded-for"];
  const peer = req.socket.remoteAddress ?? "";
  out["x-forwarded-for"] = forwardedFor ? `${String(forwardedFor)}, ${peer}` : peer;
  if (req.headers.host) out["x-forwarded-host"] = req.headers.host;
  out["x-forwarded-proto"] = "http";
  return out;
}

function responseHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !hopByHop.has(name)) out[name] = value;
  }
  return out;
}

/** Why an upstream gave no answer, as the client is told: 502 (no connection), 504 (timeout). */
interface Failure {
  readonly status: 502 | 503 | 504;
  readonly message: string;
  readonly code: string;
}

function failureOf(err: unknown, upstream: UpstreamSpec, timedOut: boolean): Failure {
  const code = (err as { code?: string }).code ?? "";
  if (timedOut) return { status: 504, message: "The upstream did not answer in time.", code: "upstream_timeout" };
  if (err instanceof undiciErrors.ConnectTimeoutError || code === "UND_ERR_CONNECT_TIMEOUT") {
    return { status: 504, message: `Connecting to ${upstream.url} timed out.`, code: "upstream_connect_timeout" };
  }
  if (err instanceof undiciErrors.HeadersTimeoutError || code === "UND_ERR_HEADERS_TIMEOUT") {
    return { status: 504, message: `${upstream.url} sent no answer in time.`, code: "upstream_timeout" };
  }
  const why = code || (err instanceof Error ? err.message : String(err));
  return { status: 502, message: `The upstream ${upstream.url} failed: ${why}.`, code: "bad_gateway" };
}

function targetOf(upstream: UpstreamSpec, path: string): string {
  return upstream.url.replace(/\/+$/, "") + path;
}

/** Connection pools by connect timeout: undici sets that timeout per pool, not per request. */
export class UpstreamAgents {
  readonly #agents = new Map<number, Agent>();

  for(connectMs: number): Agent {
    let agent = this.#agents.get(connectMs);
    if (!agent) {
      agent = new Agent({ connect: { timeout: connectMs }, keepAliveTimeout: 30_000 });
      this.#agents.set(connectMs, agent);
    }
    return agent;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#agents.values()].map((a) => a.close()));
  }
}

/** Waits until `res` can take more, or is gone. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

async function write(res: ServerResponse, bytes: Uint8Array): Promise<void> {
  if (bytes.byteLength > 0 && !res.write(bytes) && !res.destroyed) await drained(res);
}

/**
 * Passes an upstream body to the client as it comes; a cut upstream cuts the client (or the relay reports it). Returns
 * the bytes written and the error that cut the upstream, if one did.
 */
async function relayBody(
  res: ServerResponse,
  body: AsyncIterable<Uint8Array>,
  relay: ResponseRelay | undefined,
): Promise<{ bytes: number; error?: unknown }> {
  let bytes = 0;
  const send = async (out: Uint8Array) => {
    bytes += out.byteLength;
    await write(res, out);
  };
  try {
    for await (const chunk of body) {
      if (res.destroyed) return { bytes };
      await send(relay ? relay.push(chunk) : chunk);
    }
  } catch (err) {
    if (res.destroyed) return { bytes, error: err };
    if (!relay) {
      // A cut must not look like a complete answer: without a relay to say so in the body, the client's read fails.
      res.destroy();
      return { bytes, error: err };
    }
    const { tail } = relay.end(err instanceof Error ? err : new Error(String(err)));
    bytes += tail.byteLength;
    res.end(tail);
    return { bytes, error: err };
  }
  const tail = relay?.end().tail;
  await relay?.beforeEnd?.();
  bytes += tail?.byteLength ?? 0;
  res.end(tail);
  return { bytes };
}

/**
 * Relays an answer a {@link ResponseRelay} holds whole: its head and body go out together once the upstream's body has
 * ended, with the headers the relay adds; an upstream cut before that is a 502 in OpenAI's format.
 */
async function relayWhole(
  res: ServerResponse,
  status: number,
  head: Record<string, string | string[]>,
  body: AsyncIterable<Uint8Array>,
  relay: ResponseRelay,
  upstream: string,
  answerHeaders: Readonly<Record<string, string>>,
): Promise<{ bytes: number; error?: unknown }> {
  try {
    for await (const chunk of body) {
      if (res.destroyed) return { bytes: 0 };
      relay.push(chunk);
    }
  } catch (err) {
    relay.end(err instanceof Error ? err : new Error(String(err)));
    if (!res.destroyed) {
      const why = (err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err));
      sendError(res, 502, `The upstream ${upstream} cut its answer: ${why}.`, {
        code: "upstream_cut",
        headers: answerHeaders,
      });
    }
    return { bytes: 0, error: err };
  }
  const { tail, headers } = relay.end();
  await relay.beforeEnd?.();
  if (res.destroyed) return { bytes: 0 };
  const { "content-length": _length, ...rest } = head;
  res.writeHead(status, { ...rest, ...headers, "content-length": tail.byteLength });
  res.end(tail);
  return { bytes: tail.byteLength };
}

/**
 * Sends `up` to its route's upstreams in order until one answers: a refused or failed connection, a 5xx or a timeout
 * before the answer's head moves on to the next (the breakers skip upstreams that keep failing); once the head is
 * sent to the client there is no going back. The client going away aborts the upstream request.
 */
export async function forward(
  res: ServerResponse,
  up: UpstreamRequest,
  breakers: Breakers,
  agents: UpstreamAgents,
): Promise<void> {
  // A client gone while earlier stages awaited (limits, budgets) must not start an upstream request nobody reads.
  if (!res.socket || res.socket.destroyed) return;
  const { route } = up;
  const connectMs = route.timeouts?.connectMs ?? upstreamDefaults.connectMs;
  const firstByteMs = route.timeouts?.firstByteMs ?? upstreamDefaults.firstByteMs;
  const totalMs = route.timeouts?.totalMs ?? upstreamDefaults.totalMs;
  const abort = new AbortController();
  let timedOut = false;
  const total = setTimeout(() => {
    timedOut = true;
    abort.abort(new Error("total timeout"));
  }, totalMs);
  const clientGone = () => {
    if (!res.writableFinished) abort.abort(new Error("client went away"));
  };
  res.on("close", clientGone);
  try {
    let failure: Failure = { status: 503, message: "No upstream is available.", code: "no_upstream" };
    for (const [i, upstream] of route.upstreams.entries()) {
      if (abort.signal.aborted) break;
      const breaker = breakers.of(route.name, i);
      if (breaker && !breaker.acquire()) {
        if (failure.code === "no_upstream") {
          failure = { status: 503, message: `The circuit breaker of ${upstream.url} is open.`, code: "breaker_open" };
        }
        continue;
      }
      const last = i === route.upstreams.length - 1;
      const ended = up.attempt?.(upstream, up.method, up.headers);
      let answer: Awaited<ReturnType<typeof request>>;
      try {
        answer = await request(targetOf(upstream, up.path), {
          method: up.method as "GET",
          headers: up.headers,
          body: up.body ?? null,
          dispatcher: agents.for(connectMs),
          headersTimeout: firstByteMs,
          bodyTimeout: 0,
          signal: abort.signal,
        });
      } catch (err) {
        ended?.({ error: err });
        if (abort.signal.aborted && !timedOut) {
          breaker?.release();
          return;
        }
        breaker?.failure();
        failure = failureOf(err, upstream, timedOut);
        continue;
      }
      if (answer.statusCode >= 500) {
        breaker?.failure();
        if (!last) {
          ended?.({ status: answer.statusCode });
          failure = {
            status: 502,
            message: `The upstream ${upstream.url} answered ${answer.statusCode}.`,
            code: "bad_gateway",
          };
          await answer.body.dump().catch(() => {});
          continue;
        }
      } else {
        breaker?.success();
      }
      const relay = up.relayFor?.(answer.statusCode, answer.headers, upstream.url);
      const head = { ...responseHeaders(answer.headers), ...up.answerHeaders };
      if (relay?.whole) {
        const relayed = await relayWhole(
          res,
          answer.statusCode,
          head,
          answer.body,
          relay,
          upstream.url,
          up.answerHeaders ?? {},
        );
        ended?.({ status: answer.statusCode, ...relayed });
        return;
      }
      res.writeHead(answer.statusCode, head);
      // A stream's head goes out at once (its client waits for the first event); any other head goes out with the first
      // body bytes, one write instead of two (a tenth of the gateway's CPU per request, measured with --cpu-prof).
      if (String(answer.headers["content-type"] ?? "").startsWith("text/event-stream")) res.flushHeaders();
      const relayed = await relayBody(res, answer.body, relay);
      ended?.({ status: answer.statusCode, ...relayed });
      return;
    }
    if (!res.destroyed) {
      sendError(res, failure.status, failure.message, { code: failure.code, headers: up.answerHeaders ?? {} });
    }
  } finally {
    clearTimeout(total);
    res.off("close", clientGone);
  }
}
