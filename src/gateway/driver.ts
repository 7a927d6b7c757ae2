/**
 * The driver side of a gateway: what an operator needs to make a gateway serve what its custom resources declare. The
 * interface keeps the operator independent of this gateway; {@link HttpGatewayDriver} drives it over its admin API.
 */

import { type Pool, undici } from "../http/undici.js";
import type { GatewayStateView } from "./admin.js";
import type { KeySetSpec, ProfileSpec, RouteSpec } from "./state.js";

/**
 * What a PUT did: a new object, generation or content went live (the same generation with other content: something the
 * source depends on changed), or it was a replay of the live one.
 */
export type ApplyOutcome = "applied" | "unchanged";

/** A gateway refused an object or a request: `status` is the admin API's, `details` name the bad fields. */
export class GatewayDriverError extends Error {
  override readonly name = "GatewayDriverError";
  readonly status: number;
  readonly details: readonly string[];

  constructor(message: string, status: number, details: readonly string[] = []) {
    super(details.length > 0 ? `${message}: ${details.join("; ")}` : message);
    this.status = status;
    this.details = details;
  }
}

/** Drives one gateway. Every method resolves once the change is live there, and reports the gateway's boot id. */
export interface GatewayDriver {
  /** The boot id last seen; it changes when the gateway restarted and lost its state: apply everything again. */
  readonly bootId: string | undefined;
  applyRoute(spec: RouteSpec): Promise<ApplyOutcome>;
  applyKeySet(spec: KeySetSpec): Promise<ApplyOutcome>;
  applyProfile(spec: ProfileSpec): Promise<ApplyOutcome>;
  /** Removes a route; false when it was not there. */
  deleteRoute(name: string): Promise<boolean>;
  deleteKeySet(name: string): Promise<boolean>;
  deleteProfile(name: string): Promise<boolean>;
  /** Everything live, with per-route errors and breaker states. */
  state(): Promise<GatewayStateView>;
}

/** Where the admin API is and how to authenticate to it: a bearer token, a client certificate, or both. */
export interface HttpGatewayDriverOptions {
  /** The admin API's base URL, e.g. `http://127.0.0.1:8081` or `https://gateway-admin:8443`. */
  readonly url: string;
  /** The bearer token; absent when the gateway authenticates by client certificate alone. */
  readonly token?: string | undefined;
  /** For an `https` URL: the CA that signed the gateway's certificate and the client certificate and key (PEM). */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string } | undefined;
  /** Per request (default 10 s). */
  readonly timeoutMs?: number | undefined;
}

/** {@link GatewayDriver} over the kindwatch gateway's admin API. */
export class HttpGatewayDriver implements GatewayDriver {
  readonly #url: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #basePath: string;
  /**
   * The connections to the admin API (presenting the client certificate of `tls`). A pool of the transport's own
   * undici parts, not undici's index: importing kindwatch must not load all of undici for a driver it may not use.
   */
  readonly #pool: Pool;
  #bootId: string | undefined;

  constructor(options: HttpGatewayDriverOptions) {
    this.#url = options.url.replace(/\/+$/, "");
    const url = new URL(this.#url);
    this.#basePath = url.pathname.replace(/\/+$/, "");
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    const tls = options.tls;
    this.#pool = new (undici().Pool)(url.origin, tls ? { connect: { ...tls } } : {});
  }

  /** Closes its connections to the admin API. */
  async close(): Promise<void> {
    await this.#pool.close();
  }

  get bootId(): string | undefined {
    return this.#bootId;
  }

  async #call(
    method: "GET" | "PUT" | "DELETE",
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: unknown }> {
    const answer = await this.#pool.request({
      path: `${this.#basePath}${path}`,
      method,
      headers: {
        ...(this.#token === undefined ? {} : { authorization: `Bearer ${this.#token}` }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? null : JSON.stringify(body),
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    const boot = answer.headers["x-kindwatch-gateway-boot-id"];
    if (typeof boot === "string") this.#bootId = boot;
    const text = await answer.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (answer.statusCode >= 400 && answer.statusCode !== 404) {
      const e = (json ?? {}) as { error?: string; details?: string[] };
      throw new GatewayDriverError(
        `${method} ${path}: ${answer.statusCode} ${e.error ?? text}`,
        answer.statusCode,
        e.details,
      );
    }
    return { status: answer.statusCode, json };
  }

  async #apply(kind: string, spec: { name: string }): Promise<ApplyOutcome> {
    const { status, json } = await this.#call("PUT", `/admin/v1/${kind}/${encodeURIComponent(spec.name)}`, spec);
    if (status === 404) throw new GatewayDriverError(`PUT ${kind}/${spec.name}: 404 (no admin API there?)`, 404);
    return (json as { outcome: ApplyOutcome }).outcome;
  }

  async #delete(kind: string, name: string): Promise<boolean> {
    const { status } = await this.#call("DELETE", `/admin/v1/${kind}/${encodeURIComponent(name)}`);
    return status !== 404;
  }

  applyRoute(spec: RouteSpec): Promise<ApplyOutcome> {
    return this.#apply("routes", spec);
  }

  applyKeySet(spec: KeySetSpec): Promise<ApplyOutcome> {
    return this.#apply("keysets", spec);
  }

  applyProfile(spec: ProfileSpec): Promise<ApplyOutcome> {
    return this.#apply("profiles", spec);
  }

  deleteRoute(name: string): Promise<boolean> {
    return this.#delete("routes", name);
  }

  deleteKeySet(name: string): Promise<boolean> {
    return this.#delete("keysets", name);
  }

  deleteProfile(name: string): Promise<boolean> {
    return this.#delete("profiles", name);
  }

  async state(): Promise<GatewayStateView> {
    const { status, json } = await this.#call("GET", "/admin/v1/state");
    if (status === 404) throw new GatewayDriverError("GET /admin/v1/state: 404 (no admin API there?)", 404);
    return json as GatewayStateView;
  }
}
