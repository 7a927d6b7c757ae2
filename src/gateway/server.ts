/**
 * The data plane: each request goes through a short pipeline of stages (route, check, authenticate, limit, read, shape,
 * forward), each a small function that answers the error it finds.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../cache/log.js";
import { Tracing } from "../http/tracing.js";
import { readCapped } from "./body.js";
import { GatewayInputError, sendError, sendInputError } from "./errors.js";
import { authenticate, indexKeys, type KeyIndex } from "./keys.js";
import { type RateDecision, type RateLimiter, rateLimitHeaders, type TokenBudgets } from "./limits/index.js";
import { LimitsUnavailableError } from "./limits/types.js";
import type { SessionStore } from "./llm/index.js";
import { type LlmCall, llmStage } from "./llm-stage.js";
import { Observation } from "./observe.js";
import type { KeySpec, ProfileSpec, RateLimitSpec, RouteSpec } from "./state.js";
import { LiveState } from "./state.js";
import type { BreakerReading } from "./telemetry.js";
import { type GatewayTelemetry, noTelemetry } from "./telemetry-types.js";
import { type BreakerStatus, Breakers, forward, UpstreamAgents, upstreamHeaders } from "./upstream.js";
import { countingUsage, UsageTotals } from "./usage.js";

/** The default request body cap: 1 MiB. */
export const defaultMaxBodyBytes = 1024 * 1024;

/** Options of the data plane. */
export interface DataPlaneOptions {
  /** Bodies above this many bytes are refused with 413 (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Request rate limits; without it, `limit` fields of routes and keys are not enforced. */
  readonly rate?: RateLimiter;
  /** LLM token budgets; without it, `tokensPerMinute` of profiles and keys is not enforced. */
  readonly budgets?: TokenBudgets;
  /** Session history of profiles with `retention: session`; without it, no history is kept. */
  readonly sessions?: SessionStore;
  /** Where each exchange, its tokens, stream timings, limit rejections and stream cuts are reported (default: nowhere). */
  readonly telemetry?: GatewayTelemetry;
  /** Receives one access log line per request (default: none). */
  readonly accessLog?: Logger;
  /** The tracer provider of the spans (default: the global one, asked at each request). */
  readonly tracing?: Tracing;
}

/** What the admin API's state shows of a route: its spec, why it cannot serve (if so), its upstreams' breakers. */
export interface RouteStatus {
  readonly spec: RouteSpec;
  readonly errors: readonly string[];
  readonly breakers: readonly BreakerStatus[];
}

/** A route ready to serve: its keys and profile resolved, or the errors that stop it. */
interface CompiledRoute {
  readonly spec: RouteSpec;
  readonly host: string | undefined;
  readonly prefix: string;
  readonly keys: KeyIndex | undefined;
  readonly profile: ProfileSpec | undefined;
  readonly errors: readonly string[];
}

/** One request on its way through the pipeline. */
interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly path: string;
  /** `performance.now()` when the request came: a stream's time to first token counts from here. */
  readonly startedAt: number;
  route?: CompiledRoute;
  key?: KeySpec;
  body?: Uint8Array;
  /** The path sent upstream, when the LLM stage rewrote it (a task goes to the profile's completions endpoint). */
  upstreamPath?: string;
  /** The LLM request admitted on a profile route, finished once the answer has ended. */
  llm?: LlmCall;
  /** Headers the gateway adds to the answer (the limits' `x-ratelimit-*`). */
  readonly answerHeaders: Record<string, string>;
  /** LLM tokens of the answer, set by the llm stages once counted: for the access log and the span. */
  tokens?: { input: number; output: number; estimated: boolean };
  /** The exchange's metrics, log line and spans. */
  readonly seen: Observation;
}

function pathMatches(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return (
    prefix.endsWith("/") || path.length === prefix.length || path[prefix.length] === "/" || path[prefix.length] === "?"
  );
}

function hostOf(req: IncomingMessage): string {
  return (req.headers.host ?? "").toLowerCase();
}

function hostMatches(route: CompiledRoute, host: string): boolean {
  if (route.host === undefined || route.host === "*") return true;
  return route.host.includes(":") ? host === route.host : host.replace(/:\d+$/, "") === route.host;
}

/** Reads a body whole, refusing it (413) as soon as it is over `max` bytes. */
async function readBody(req: IncomingMessage, max: number): Promise<Uint8Array | undefined> {
  const tooLarge = () =>
    new GatewayInputError(413, `The request body is over the limit of ${max} bytes.`, undefined, "body_too_large", {
      connection: "close",
    });
  if (Number(req.headers["content-length"]) > max) throw tooLarge();
  if (req.headers["content-length"] === undefined && req.headers["transfer-encoding"] === undefined) return undefined;
  const body = await readCapped(req, max);
  if (!body) throw tooLarge();
  return body.length > 0 ? body : undefined;
}

/** The data plane: routes requests by the live state, which the admin API changes. */
export class DataPlane {
  readonly state: LiveState;
  /** LLM tokens since the boot by profile and key, counted from the telemetry's `tokens` events. */
  readonly usage = new UsageTotals();
  readonly #breakers = new Breakers();
  readonly #agents = new UpstreamAgents();
  readonly #maxBodyBytes: number;
  readonly #rate: RateLimiter | undefined;
  readonly #budgets: TokenBudgets | undefined;
  readonly #sessions: SessionStore | undefined;
  readonly #telemetry: GatewayTelemetry;
  readonly #accessLog: Logger | undefined;
  readonly #tracing: Tracing;
  /** Longest prefix first; for the same prefix, routes with a host before "*". */
  #table: CompiledRoute[] = [];
  #byName = new Map<string, CompiledRoute>();

  constructor(options: DataPlaneOptions = {}) {
    this.#maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes;
    this.#rate = options.rate;
    this.#budgets = options.budgets;
    this.#sessions = options.sessions;
    this.#telemetry = countingUsage(options.telemetry ?? noTelemetry, this.usage);
    this.#accessLog = options.accessLog;
    this.#tracing = options.tracing ?? new Tracing();
    this.state = new LiveState(() => this.#compile());
  }

  /** Rebuilds the routing table from the live state: called on every change, before the admin API answers. */
  #compile(): void {
    const keySets = new Map(this.state.list("keysets").map((s) => [s.name, indexKeys(s)]));
    const profiles = new Map(this.state.list("profiles").map((p) => [p.name, p]));
    const table = this.state.list("routes").map((spec): CompiledRoute => {
      const errors: string[] = [];
      const keys = spec.auth ? keySets.get(spec.auth.keySet) : undefined;
      if (spec.auth && !keys) errors.push(`key set "${spec.auth.keySet}" does not exist`);
      const profile = spec.profile ? profiles.get(spec.profile) : undefined;
      if (spec.profile && !profile) errors.push(`profile "${spec.profile}" does not exist`);
      this.#breakers.sync(spec);
      const host = spec.match.host?.toLowerCase();
      return { spec, host, prefix: spec.match.pathPrefix, keys, profile, errors };
    });
    table.sort(
      (a, b) =>
        b.prefix.length - a.prefix.length ||
        Number(a.host === undefined || a.host === "*") - Number(b.host === undefined || b.host === "*"),
    );
    this.#table = table;
    this.#byName = new Map(table.map((r) => [r.spec.name, r]));
    this.#breakers.retain(new Set(this.#byName.keys()));
  }

  /** The live routes with their errors and breakers, for `/admin/v1/state`. */
  routeStatus(name: string): RouteStatus | undefined {
    const r = this.#byName.get(name);
    return r && { spec: r.spec, errors: r.errors, breakers: this.#breakers.status(r.spec) };
  }

  /** Every upstream's breaker, for the breaker state metric. */
  *breakerReadings(now = Date.now()): Iterable<BreakerReading> {
    for (const r of this.#table) {
      for (const b of this.#breakers.status(r.spec, now)) yield { route: r.spec.name, upstream: b.url, state: b.state };
    }
  }

  /** Serves one request; never throws (every failure becomes an OpenAI-format answer). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const seen = new Observation(req, this.#telemetry, this.#accessLog, this.#tracing);
    const ex: Exchange = { req, res, path: req.url ?? "/", startedAt: performance.now(), answerHeaders: {}, seen };
    try {
      this.#route(ex);
      this.#check(ex);
      this.#authenticate(ex);
      await this.#admitRate(ex);
      const body = await readBody(req, this.#maxBodyBytes);
      if (body) ex.body = body;
      if (await this.#shapeLlm(ex)) return;
      await this.#forward(ex);
    } catch (err) {
      if (err instanceof GatewayInputError) sendInputError(res, err);
      else if (!res.destroyed) sendError(res, 500, `The gateway failed: ${(err as Error).message}`);
    } finally {
      // However the answer ended (delivered, cut, failed, the client gone), the budgets get back what was not used.
      const usage = await ex.llm?.finish().catch(() => undefined);
      if (usage) ex.tokens = { input: usage.promptTokens, output: usage.completionTokens, estimated: usage.estimated };
    }
    const route = ex.route;
    seen.end(res, {
      route: route?.spec.name,
      profile: route?.spec.profile,
      model: route?.profile?.model,
      keyId: ex.key?.id,
      tokens: ex.tokens,
      bytesIn: ex.body?.byteLength ?? 0,
    });
  }

  /** Finds the route: 404 when none matches, 405 (with `Allow`) when the best one takes other methods. */
  #route(ex: Exchange): void {
    const host = hostOf(ex.req);
    const route = this.#table.find((r) => hostMatches(r, host) && pathMatches(ex.path, r.prefix));
    if (!route) {
      throw new GatewayInputError(404, `No route for ${ex.req.method} ${ex.path}.`, undefined, "route_not_found");
    }
    const methods = route.spec.match.methods;
    if (methods && !methods.includes(ex.req.method ?? "")) {
      throw new GatewayInputError(
        405,
        `Route ${route.spec.name} takes ${methods.join(", ")}, not ${ex.req.method}.`,
        undefined,
        "method_not_allowed",
        { allow: methods.join(", ") },
      );
    }
    ex.route = route;
  }

  /** A route whose key set or profile does not exist is live but answers 503, saying why. */
  #check(ex: Exchange): void {
    const route = ex.route as CompiledRoute;
    if (route.errors.length > 0) {
      throw new GatewayInputError(
        503,
        `Route ${route.spec.name} is misconfigured: ${route.errors.join("; ")}.`,
        undefined,
        "route_misconfigured",
      );
    }
  }

  #authenticate(ex: Exchange): void {
    const route = ex.route as CompiledRoute;
    if (route.keys) ex.key = authenticate(ex.req, route.spec, route.keys);
  }

  /**
   * The route's bucket, then the key's (per route): 429 in OpenAI's format with `Retry-After` and `x-ratelimit-*` when
   * either is empty; an allowed request's answer carries the headers of its tighter bucket. Unreachable limits: 503.
   */
  async #admitRate(ex: Exchange): Promise<void> {
    const route = (ex.route as CompiledRoute).spec;
    if (!this.#rate) return;
    const buckets: [string, RateLimitSpec | undefined][] = [
      [`route:${route.name}`, route.limit],
      [`key:${route.name}:${ex.key?.id}`, ex.key?.limit],
    ];
    let tightest: RateDecision | undefined;
    for (const [bucket, spec] of buckets) {
      if (!spec) continue;
      let decision: RateDecision;
      try {
        decision = await this.#rate.take(bucket, spec);
      } catch (err) {
        if (err instanceof LimitsUnavailableError) throw new GatewayInputError(503, err.message, undefined, err.code);
        throw err;
      }
      if (!decision.allowed) {
        this.#telemetry.limited({ route: route.name, ...(ex.key ? { keyId: ex.key.id } : {}), limit: "requests" });
        throw new GatewayInputError(
          429,
          `Rate limit reached for ${bucket}: ${spec.requestsPerSecond} requests per second, burst ${spec.burst}.`,
          undefined,
          "rate_limit_exceeded",
          rateLimitHeaders(decision),
        );
      }
      if (!tightest || decision.remaining < tightest.remaining) tightest = decision;
    }
    if (tightest) Object.assign(ex.answerHeaders, rateLimitHeaders(tightest));
  }

  /**
   * On a route with a profile, the LLM stage shapes OpenAI requests and admits them by the token budgets (see
   * llm-stage.ts); returns true when it answered the request itself (`/v1/models`).
   */
  async #shapeLlm(ex: Exchange): Promise<boolean> {
    const route = ex.route as CompiledRoute;
    if (!route.profile) return false;
    const outcome = await llmStage(
      {
        route: route.spec,
        profile: route.profile,
        key: ex.key,
        method: ex.req.method ?? "GET",
        path: ex.path,
        headers: ex.req.headers,
        body: ex.body,
        answerHeaders: ex.answerHeaders,
        startedAt: ex.startedAt,
      },
      {
        budgets: this.#budgets,
        sessions: this.#sessions,
        telemetry: this.#telemetry,
        routes: () => this.#table,
      },
    );
    if (outcome?.kind === "answer") {
      const text = JSON.stringify(outcome.json);
      ex.res.writeHead(outcome.status, {
        ...ex.answerHeaders,
        "content-type": "application/json",
        "content-length": Buffer.byteLength(text),
      });
      ex.res.end(text);
      return true;
    }
    if (outcome?.kind === "forward") {
      ex.body = outcome.body;
      ex.upstreamPath = outcome.path;
      ex.llm = outcome.call;
    }
    return false;
  }

  async #forward(ex: Exchange): Promise<void> {
    const route = (ex.route as CompiledRoute).spec;
    // The LLM stage reads the answer as it passes (usage, a cut, the session's turn): it must come uncompressed.
    await forward(
      ex.res,
      {
        route,
        method: ex.req.method ?? "GET",
        path: ex.upstreamPath ?? ex.path,
        headers: ex.llm
          ? { ...upstreamHeaders(ex.req, route), "accept-encoding": "identity" }
          : upstreamHeaders(ex.req, route),
        body: ex.body,
        answerHeaders: ex.answerHeaders,
        attempt: ex.seen.attempt,
        ...(ex.llm ? { relayFor: ex.llm.relayFor } : {}),
      },
      this.#breakers,
      this.#agents,
    );
  }

  /** Closes the upstream connection pools. */
  async close(): Promise<void> {
    await this.#agents.close();
  }
}
