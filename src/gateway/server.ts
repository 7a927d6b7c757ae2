/**
 * The data plane: each request goes through a short pipeline of stages (route, check, authenticate, limit, read, shape,
 * forward), each a small function that answers the error it finds. The limits and llm stages are hook points.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../cache/log.js";
import { Tracing } from "../http/tracing.js";
import { readCapped } from "./body.js";
import { GatewayInputError, sendError, sendInputError } from "./errors.js";
import { authenticate, indexKeys, type KeyIndex } from "./keys.js";
import { Observation } from "./observe.js";
import type { KeySpec, ProfileSpec, RateLimitSpec, RouteSpec } from "./state.js";
import { LiveState } from "./state.js";
import type { BreakerReading } from "./telemetry.js";
import { type GatewayTelemetry, noTelemetry } from "./telemetry-types.js";
import {
  type BreakerStatus,
  Breakers,
  forward,
  type ResponseRelay,
  UpstreamAgents,
  upstreamHeaders,
} from "./upstream.js";

/** The default request body cap: 1 MiB. */
export const defaultMaxBodyBytes = 1024 * 1024;

/**
 * Hook (a): the request rate limiter of the limits helper (`src/gateway/limits/`, GATEWAY.md's `RateLimiter`), taken
 * structurally here so that `memoryLimits().rate` or `redisLimits(url).rate` plug in as they are.
 */
export interface RateLimiterHook {
  take(
    bucket: string,
    spec: RateLimitSpec,
    now?: number,
  ): Promise<{ allowed: boolean; limit: number; remaining: number; resetMs: number; retryAfterMs: number }>;
  close(): Promise<void>;
}

/** Options of the data plane. */
export interface DataPlaneOptions {
  /** Bodies above this many bytes are refused with 413 (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Request rate limits; without it, `limit` fields of routes and keys are not enforced. */
  readonly rate?: RateLimiterHook;
  /** Where the metrics of each exchange go (default: nowhere). */
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
  route?: CompiledRoute;
  key?: KeySpec;
  body?: Uint8Array;
  relayFor?: (status: number, headers: IncomingHttpHeaders) => ResponseRelay | undefined;
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
  readonly #breakers = new Breakers();
  readonly #agents = new UpstreamAgents();
  readonly #maxBodyBytes: number;
  readonly #rate: RateLimiterHook | undefined;
  readonly #telemetry: GatewayTelemetry;
  readonly #accessLog: Logger | undefined;
  readonly #tracing: Tracing;
  /** Longest prefix first; for the same prefix, routes with a host before "*". */
  #table: CompiledRoute[] = [];
  #byName = new Map<string, CompiledRoute>();

  constructor(options: DataPlaneOptions = {}) {
    this.#maxBodyBytes = options.maxBodyBytes ?? defaultMaxBodyBytes;
    this.#rate = options.rate;
    this.#telemetry = options.telemetry ?? noTelemetry;
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
    const ex: Exchange = { req, res, path: req.url ?? "/", answerHeaders: {}, seen };
    try {
      this.#route(ex);
      this.#check(ex);
      this.#authenticate(ex);
      await this.#admitRate(ex);
      const body = await readBody(req, this.#maxBodyBytes);
      if (body) ex.body = body;
      await this.#shapeLlm(ex);
      await this.#forward(ex);
    } catch (err) {
      if (err instanceof GatewayInputError) sendInputError(res, err);
      else if (!res.destroyed) sendError(res, 500, `The gateway failed: ${(err as Error).message}`);
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
   * Hook (a): the route's bucket, then the key's (per route); 429 with `Retry-After` when either is empty. The limits
   * helper's `rateLimitHeaders(decision)` goes into `ex.answerHeaders` here, and into the 429's headers.
   */
  async #admitRate(ex: Exchange): Promise<void> {
    const route = (ex.route as CompiledRoute).spec;
    if (!this.#rate) return;
    const buckets: [string, RateLimitSpec | undefined][] = [
      [`route:${route.name}`, route.limit],
      [`key:${route.name}:${ex.key?.id}`, ex.key?.limit],
    ];
    for (const [bucket, spec] of buckets) {
      if (!spec) continue;
      const decision = await this.#rate.take(bucket, spec);
      if (!decision.allowed) {
        throw new GatewayInputError(429, `Rate limit reached for ${bucket}.`, undefined, "rate_limit_exceeded", {
          "retry-after": String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))),
        });
      }
    }
  }

  /**
   * Hook (b): on a route with a profile, the llm helper's `applyProfile` rewrites `ex.body` here (and reserves the
   * token budgets), and `ex.relayFor` returns its `SseRelay` for streamed answers (or a relay watching a JSON answer
   * for its usage); the reservation is settled once `#forward` has returned. Until it lands, bodies pass as sent.
   */
  async #shapeLlm(ex: Exchange): Promise<void> {
    const route = ex.route as CompiledRoute;
    if (!route.profile) return;
  }

  async #forward(ex: Exchange): Promise<void> {
    const route = (ex.route as CompiledRoute).spec;
    await forward(
      ex.res,
      {
        route,
        method: ex.req.method ?? "GET",
        path: ex.path,
        headers: upstreamHeaders(ex.req, route),
        body: ex.body,
        answerHeaders: ex.answerHeaders,
        attempt: ex.seen.attempt,
        ...(ex.relayFor ? { relayFor: ex.relayFor } : {}),
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
