/** Callers' keys: found by the sha256 of what the caller sent, so that the gateway never holds a key itself. */
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { GatewayInputError } from "./errors.js";
import type { KeySetSpec, KeySpec, RouteSpec } from "./state.js";

/** A key set indexed by hash: a lookup costs one sha256 and one map read. */
export type KeyIndex = ReadonlyMap<string, KeySpec>;

/** Indexes a key set's keys by their hash. */
export function indexKeys(set: KeySetSpec): KeyIndex {
  return new Map(set.keys.map((k) => [k.sha256, k]));
}

/** The lower-case hex sha256 of a key, as key sets hold it. */
export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** The key `req` carries for `route`: its configured header, else `Authorization: Bearer`. */
export function presentedKey(req: IncomingMessage, route: RouteSpec): string | undefined {
  const header = route.auth?.header ?? "authorization";
  const raw = req.headers[header];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  if (header !== "authorization") return value.trim() || undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value);
  return m?.[1];
}

/** The key `req` authenticates with on `route`: 401 without one or with an unknown one, 403 when not allowed there. */
export function authenticate(req: IncomingMessage, route: RouteSpec, keys: KeyIndex): KeySpec {
  const presented = presentedKey(req, route);
  const where =
    route.auth?.header && route.auth.header !== "authorization" ? route.auth.header : "Authorization: Bearer";
  if (presented === undefined) {
    throw new GatewayInputError(401, `This route needs an API key (${where}).`, undefined, "missing_api_key");
  }
  const key = keys.get(hashKey(presented));
  if (!key) throw new GatewayInputError(401, "Incorrect API key provided.", undefined, "invalid_api_key");
  if (key.routes && !key.routes.includes(route.name)) {
    throw new GatewayInputError(
      403,
      `The API key ${key.id} may not use route ${route.name}.`,
      undefined,
      "route_not_allowed",
    );
  }
  return key;
}
