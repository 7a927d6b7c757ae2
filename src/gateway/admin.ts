/**
 * The admin API: `PUT/GET/DELETE /admin/v1/{routes|keysets|profiles}/NAME` and `GET /admin/v1/state`, behind a bearer
 * token. Every answer carries the gateway's boot id, so that a driver knows when a restart emptied the state.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { readCapped } from "./body.js";
import type { DataPlane } from "./server.js";
import {
  ConflictError,
  type GatewaySpecs,
  type KeySetSpec,
  type ProfileSpec,
  type RateLimitSpec,
  type RouteSpec,
  type SpecKind,
  specKinds,
  ValidationError,
  validateSpec,
} from "./state.js";
import type { BreakerStatus } from "./upstream.js";
import type { UsageView } from "./usage.js";

/** The header that carries the boot id on every admin answer. */
export const bootIdHeader = "x-kindwatch-gateway-boot-id";

/** Admin bodies are small declarations: anything above this is refused. */
export const maxAdminBodyBytes = 1024 * 1024;

/** A key as the admin API shows it: never its hash. */
export interface KeyView {
  readonly id: string;
  readonly routes?: readonly string[];
  readonly limit?: RateLimitSpec;
  readonly tokensPerMinute?: number;
}

/** A live route as the admin API shows it: its spec, why it cannot serve (empty when it can), its breakers. */
export type RouteView = RouteSpec & { readonly errors: readonly string[]; readonly breakers: readonly BreakerStatus[] };

/** A live key set as the admin API shows it: key ids and settings, no hashes. */
export type KeySetView = Omit<KeySetSpec, "keys"> & { readonly keys: readonly KeyView[] };

/**
 * What `/admin/v1/state` answers: everything live, with generations, route errors and breakers, and the LLM tokens used
 * by profile and key since `bootId` began.
 */
export interface GatewayStateView {
  readonly bootId: string;
  readonly routes: readonly RouteView[];
  readonly keysets: readonly KeySetView[];
  readonly profiles: readonly ProfileSpec[];
  readonly usage: UsageView;
}

class HttpError extends Error {
  readonly status: number;
  readonly details: readonly string[] | undefined;

  constructor(status: number, message: string, details?: readonly string[]) {
    super(message);
    this.status = status;
    this.details = details;
  }
}

function keySetView(set: KeySetSpec): KeySetView {
  return { ...set, keys: set.keys.map(({ sha256: _hidden, ...view }) => view) };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readCapped(req, maxAdminBodyBytes);
  if (!body) throw new HttpError(413, `the body is over ${maxAdminBodyBytes} bytes`);
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new HttpError(400, `the body is not JSON: ${(err as Error).message}`);
  }
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Serves the admin API of `plane`. */
export class AdminApi {
  readonly #plane: DataPlane;
  readonly #token: Buffer;
  /** Random per process: the state is not persisted, so a new boot id means a driver must apply everything again. */
  readonly bootId: string;

  constructor(plane: DataPlane, token: string, bootId: string) {
    this.#plane = plane;
    // Hashes have one length whatever the token's, so the comparison takes the same time for any guess.
    this.#token = digest(token);
    this.bootId = bootId;
  }

  /** Everything live, as `GET /admin/v1/state` answers it. */
  stateView(): GatewayStateView {
    const state = this.#plane.state;
    return {
      bootId: this.bootId,
      routes: state.list("routes").map((r) => {
        const status = this.#plane.routeStatus(r.name);
        return { ...r, errors: status?.errors ?? [], breakers: status?.breakers ?? [] };
      }),
      keysets: state.list("keysets").map(keySetView),
      profiles: state.list("profiles"),
      usage: this.#plane.usage.view(state.list("profiles").map((p) => p.name)),
    };
  }

  /** Serves one admin request; never throws. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      this.#authorize(req);
      const { status, body } = await this.#dispatch(req);
      this.#send(res, status, body);
    } catch (err) {
      if (err instanceof HttpError) {
        this.#send(res, err.status, { error: err.message, ...(err.details ? { details: err.details } : {}) });
      } else {
        this.#send(res, 500, { error: (err as Error).message });
      }
    }
  }

  #authorize(req: IncomingMessage): void {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    if (!m || !timingSafeEqual(digest(m[1] as string), this.#token)) {
      throw new HttpError(401, "a valid bearer token is required");
    }
  }

  async #dispatch(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const path = new URL(req.url ?? "/", "http://admin").pathname;
    const method = req.method ?? "GET";
    if (path === "/admin/v1/state") {
      if (method !== "GET") throw new HttpError(405, `${method} is not allowed on ${path}`);
      return { status: 200, body: this.stateView() };
    }
    const m = /^\/admin\/v1\/([a-z]+)\/([^/]+)$/.exec(path);
    const kind = m?.[1] as SpecKind | undefined;
    if (!m || !kind || !specKinds.includes(kind)) throw new HttpError(404, `no such admin path: ${path}`);
    const name = decodeURIComponent(m[2] as string);
    switch (method) {
      case "PUT":
        return this.#put(kind, name, await readJson(req));
      case "GET": {
        const view = this.#view(kind, name);
        if (!view) throw new HttpError(404, `${kind}/${name} is not live`);
        return { status: 200, body: view };
      }
      case "DELETE":
        if (!this.#plane.state.delete(kind, name)) throw new HttpError(404, `${kind}/${name} is not live`);
        return { status: 200, body: { deleted: `${kind}/${name}` } };
      default:
        throw new HttpError(405, `${method} is not allowed on ${path}`);
    }
  }

  #put(kind: SpecKind, name: string, body: unknown): { status: number; body: unknown } {
    let spec: GatewaySpecs[SpecKind];
    try {
      spec = validateSpec(kind, name, body);
    } catch (err) {
      if (err instanceof ValidationError) throw new HttpError(400, `invalid ${kind}/${name}`, err.issues);
      throw err;
    }
    try {
      const outcome = this.#plane.state.put(kind, spec);
      return { status: 200, body: { outcome, object: this.#view(kind, name) } };
    } catch (err) {
      if (err instanceof ConflictError) throw new HttpError(409, err.message);
      throw err;
    }
  }

  #view(kind: SpecKind, name: string): unknown {
    if (kind === "routes") {
      const status = this.#plane.routeStatus(name);
      return status && { ...status.spec, errors: status.errors, breakers: status.breakers };
    }
    if (kind === "keysets") {
      const set = this.#plane.state.get("keysets", name);
      return set && keySetView(set);
    }
    return this.#plane.state.get(kind, name);
  }

  #send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      [bootIdHeader]: this.bootId,
      // The rest of an oversized body is still on its way: this connection cannot carry another request.
      ...(status === 413 ? { connection: "close" } : {}),
    });
    res.end(text);
  }
}
