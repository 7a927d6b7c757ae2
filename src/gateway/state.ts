/**
 * The gateway's declarative model: routes, key sets and LLM profiles as the admin API takes them (validated, every bad
 * field named), and the live state they make, versioned by the uid and generation of the object each came from.
 */
import { isDeepStrictEqual } from "node:util";

/**
 * The custom resource an object came from: a newer generation, or the same one with other content (something it
 * depends on changed, e.g. a Secret rotated), is applied; the same generation and content is a replay and changes
 * nothing; an older generation is refused.
 */
export interface Source {
  readonly uid: string;
  readonly generation: number;
}

/** Requests per second with a burst: a token bucket. */
export interface RateLimitSpec {
  readonly requestsPerSecond: number;
  readonly burst: number;
}

/** One upstream of a route: an OpenAI-compatible model server or a plain HTTP service. */
export interface UpstreamSpec {
  readonly url: string;
  readonly kind: "openai" | "http";
  /** Opens after `failures` consecutive failures (default 5), half-opens after `openMs` (default 30000). */
  readonly breaker?: { readonly failures?: number; readonly openMs?: number };
}

/** A task API of a route: `POST /v1/tasks/NAME` answered by the model with `template`'s variables filled in. */
export interface TaskSpec {
  readonly name: string;
  readonly template: string;
  readonly variables: readonly string[];
}

/** A route: what it matches, where it sends requests, and what it asks of callers. */
export interface RouteSpec {
  readonly name: string;
  readonly source: Source;
  /** Host exact or "*" (the default); the longest matching path prefix wins. */
  readonly match: { readonly host?: string; readonly pathPrefix: string; readonly methods?: readonly string[] };
  /** Tried in order: the primary, then the fallbacks. */
  readonly upstreams: readonly UpstreamSpec[];
  readonly timeouts?: { readonly connectMs?: number; readonly firstByteMs?: number; readonly totalMs?: number };
  /** Without it, the route is open. */
  readonly auth?: { readonly keySet: string; readonly header?: string };
  readonly limit?: RateLimitSpec;
  /** The name of an LLM profile: the route then has OpenAI semantics. */
  readonly profile?: string;
  readonly tasks?: readonly TaskSpec[];
}

/** One key of a key set: only its sha256, never the key. */
export interface KeySpec {
  readonly id: string;
  /** Lower-case hex sha256 of the key. */
  readonly sha256: string;
  /** The routes the key may use; all of its key set's routes when absent. */
  readonly routes?: readonly string[];
  readonly limit?: RateLimitSpec;
  readonly tokensPerMinute?: number;
}

/** A set of keys routes authenticate against; a PUT with a new list rotates them at once. */
export interface KeySetSpec {
  readonly name: string;
  readonly source: Source;
  readonly keys: readonly KeySpec[];
}

/** An LLM profile: the model, its defaults and bounds, its system prompt and history. */
export interface ProfileSpec {
  readonly name: string;
  readonly source: Source;
  readonly model: string;
  readonly params?: {
    readonly temperature?: number;
    readonly top_p?: number;
    readonly max_tokens?: number;
    readonly stop?: readonly string[];
  };
  readonly bounds?: {
    readonly temperature?: readonly [number, number];
    readonly top_p?: readonly [number, number];
    readonly max_tokens?: number;
  };
  readonly protocol?: "chat" | "completion";
  readonly systemPrompt?: string;
  readonly history?: {
    readonly retention: "none" | "session";
    readonly ttlSeconds?: number;
    readonly maxTurns?: number;
    readonly header?: string;
  };
  readonly tokensPerMinute?: number;
}

/** The kinds of object the admin API takes, by their path segment. */
export interface GatewaySpecs {
  readonly routes: RouteSpec;
  readonly keysets: KeySetSpec;
  readonly profiles: ProfileSpec;
}

/** `routes`, `keysets` or `profiles`. */
export type SpecKind = keyof GatewaySpecs;

/** The kinds, as the admin API's paths name them. */
export const specKinds: readonly SpecKind[] = ["routes", "keysets", "profiles"];

/** An object the admin API refused: each issue names its field (`upstreams[1].url: not an http(s) URL`). */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(issues.join("; "));
    this.issues = issues;
  }
}

/** A PUT whose generation is older than the live one for the same uid. */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
}

const namePattern = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const methodPattern = /^[A-Z]+$/;
const hostPattern = /^(\*|[a-z0-9]([-a-z0-9.]*[a-z0-9])?(:\d{1,5})?)$/;

/** Collects the issues of one object, each prefixed with the path of its field. */
class Checker {
  readonly issues: string[] = [];

  fail(path: string, message: string): undefined {
    this.issues.push(`${path}: ${message}`);
    return undefined;
  }

  object(v: unknown, path: string, known: readonly string[]): Record<string, unknown> | undefined {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return this.fail(path, "must be an object");
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!known.includes(k)) this.fail(join(path, k), "unknown field");
    return o;
  }

  string(
    v: unknown,
    path: string,
    opts: { pattern?: RegExp; what?: string; empty?: boolean } = {},
  ): string | undefined {
    if (typeof v !== "string") return this.fail(path, "must be a string");
    if (!opts.empty && v === "") return this.fail(path, "must not be empty");
    if (opts.pattern && !opts.pattern.test(v)) return this.fail(path, `not ${opts.what ?? "valid"}`);
    return v;
  }

  number(v: unknown, path: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
    if (typeof v !== "number" || !Number.isFinite(v)) return this.fail(path, "must be a number");
    if (opts.integer && !Number.isInteger(v)) return this.fail(path, "must be an integer");
    if (opts.min !== undefined && v < opts.min) return this.fail(path, `must be at least ${opts.min}`);
    if (opts.max !== undefined && v > opts.max) return this.fail(path, `must be at most ${opts.max}`);
    return v;
  }

  array(v: unknown, path: string, opts: { nonEmpty?: boolean } = {}): unknown[] | undefined {
    if (!Array.isArray(v)) return this.fail(path, "must be an array");
    if (opts.nonEmpty && v.length === 0) return this.fail(path, "must not be empty");
    return v;
  }

  strings(v: unknown, path: string, opts: { pattern?: RegExp; what?: string } = {}): string[] | undefined {
    const a = this.array(v, path);
    if (!a) return undefined;
    const out = a.map((s, i) => this.string(s, `${path}[${i}]`, opts));
    return out.every((s) => s !== undefined) ? (out as string[]) : undefined;
  }

  /** The value of an optional field: absent and undefined stay absent, anything else goes through `check`. */
  optional<T>(o: Record<string, unknown>, key: string, check: (v: unknown) => T | undefined): T | undefined {
    return o[key] === undefined ? undefined : check(o[key]);
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** `{k: v}` without the keys whose value is undefined (exactOptionalPropertyTypes wants them absent). */
function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

function checkSource(c: Checker, v: unknown): Source | undefined {
  const o = c.object(v, "source", ["uid", "generation"]);
  if (!o) return undefined;
  const uid = c.string(o.uid, "source.uid");
  const generation = c.number(o.generation, "source.generation", { min: 0, integer: true });
  return uid === undefined || generation === undefined ? undefined : { uid, generation };
}

function checkLimit(c: Checker, v: unknown, path: string): RateLimitSpec | undefined {
  const o = c.object(v, path, ["requestsPerSecond", "burst"]);
  if (!o) return undefined;
  const requestsPerSecond = c.number(o.requestsPerSecond, `${path}.requestsPerSecond`, { min: 0 });
  const burst = c.number(o.burst, `${path}.burst`, { min: 1, integer: true });
  if (requestsPerSecond === 0) c.fail(`${path}.requestsPerSecond`, "must be more than 0");
  return requestsPerSecond === undefined || burst === undefined ? undefined : { requestsPerSecond, burst };
}

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return (u.protocol === "http:" || u.protocol === "https:") && u.username === "" && u.search === "" && !u.hash;
  } catch {
    return false;
  }
}

function checkUpstream(c: Checker, v: unknown, path: string): UpstreamSpec | undefined {
  const o = c.object(v, path, ["url", "kind", "breaker"]);
  if (!o) return undefined;
  const url = c.string(o.url, `${path}.url`);
  if (url !== undefined && !isHttpUrl(url)) c.fail(`${path}.url`, "not an http(s) URL");
  const kind: unknown = o.kind === undefined ? "http" : o.kind;
  if (kind !== "openai" && kind !== "http") c.fail(`${path}.kind`, 'must be "openai" or "http"');
  const breaker = c.optional(o, "breaker", (b) => {
    const bo = c.object(b, `${path}.breaker`, ["failures", "openMs"]);
    if (!bo) return undefined;
    return defined({
      failures: c.optional(bo, "failures", (n) => c.number(n, `${path}.breaker.failures`, { min: 1, integer: true })),
      openMs: c.optional(bo, "openMs", (n) => c.number(n, `${path}.breaker.openMs`, { min: 1, integer: true })),
    });
  });
  if (url === undefined || !isHttpUrl(url) || (kind !== "openai" && kind !== "http")) return undefined;
  return defined({ url, kind, breaker }) as UpstreamSpec;
}

function checkTask(c: Checker, v: unknown, path: string): TaskSpec | undefined {
  const o = c.object(v, path, ["name", "template", "variables"]);
  if (!o) return undefined;
  const name = c.string(o.name, `${path}.name`, { pattern: namePattern, what: "a lower-case DNS name" });
  const template = c.string(o.template, `${path}.template`);
  const variables = c.strings(o.variables ?? [], `${path}.variables`, {
    pattern: /^[A-Za-z_][A-Za-z0-9_]*$/,
    what: "an identifier",
  });
  if (name === undefined || template === undefined || variables === undefined) return undefined;
  return { name, template, variables };
}

function checkName(c: Checker, o: Record<string, unknown>, pathName: string): string | undefined {
  if (o.name !== undefined && o.name !== pathName) return c.fail("name", `"${String(o.name)}" is not the path's name`);
  return c.string(pathName, "name", { pattern: namePattern, what: "a lower-case DNS name" });
}

function checkMs(c: Checker, o: Record<string, unknown>, key: string, path: string): number | undefined {
  return c.optional(o, key, (n) => c.number(n, `${path}.${key}`, { min: 1, max: 86_400_000, integer: true }));
}

function route(c: Checker, o: Record<string, unknown>, name: string | undefined, source: Source | undefined) {
  const m = c.object(o.match, "match", ["host", "pathPrefix", "methods"]);
  const host = m && c.optional(m, "host", (h) => c.string(h, "match.host", { pattern: hostPattern, what: "a host" }));
  const pathPrefix = m && c.string(m.pathPrefix, "match.pathPrefix");
  if (pathPrefix !== undefined && !pathPrefix.startsWith("/")) c.fail("match.pathPrefix", 'must start with "/"');
  const methods =
    m && c.optional(m, "methods", (v) => c.strings(v, "match.methods", { pattern: methodPattern, what: "a method" }));
  const list = c.array(o.upstreams, "upstreams", { nonEmpty: true });
  const upstreams = list?.map((u, i) => checkUpstream(c, u, `upstreams[${i}]`));
  const timeouts = c.optional(o, "timeouts", (v) => {
    const t = c.object(v, "timeouts", ["connectMs", "firstByteMs", "totalMs"]);
    return (
      t &&
      defined({
        connectMs: checkMs(c, t, "connectMs", "timeouts"),
        firstByteMs: checkMs(c, t, "firstByteMs", "timeouts"),
        totalMs: checkMs(c, t, "totalMs", "timeouts"),
      })
    );
  });
  const auth = c.optional(o, "auth", (v) => {
    const a = c.object(v, "auth", ["keySet", "header"]);
    if (!a) return undefined;
    const keySet = c.string(a.keySet, "auth.keySet", { pattern: namePattern, what: "a key set's name" });
    const header = c.optional(a, "header", (h) =>
      c.string(h, "auth.header", { pattern: /^[A-Za-z0-9-]+$/, what: "a header name" }),
    );
    return keySet === undefined ? undefined : defined({ keySet, header: header?.toLowerCase() });
  });
  const limit = c.optional(o, "limit", (v) => checkLimit(c, v, "limit"));
  const profile = c.optional(o, "profile", (v) =>
    c.string(v, "profile", { pattern: namePattern, what: "a profile's name" }),
  );
  const taskList = c.optional(o, "tasks", (v) => c.array(v, "tasks"));
  const tasks = taskList?.map((t, i) => checkTask(c, t, `tasks[${i}]`));
  if (tasks && !profile) c.fail("tasks", "need a profile");
  if (c.issues.length > 0 || name === undefined || source === undefined || pathPrefix === undefined) return undefined;
  return defined({
    name,
    source,
    match: defined({ host, pathPrefix, methods: methods?.map((x) => x.toUpperCase()) }),
    upstreams: upstreams as UpstreamSpec[],
    timeouts,
    auth,
    limit,
    profile,
    tasks: tasks as TaskSpec[] | undefined,
  }) as RouteSpec;
}

function keySet(c: Checker, o: Record<string, unknown>, name: string | undefined, source: Source | undefined) {
  const list = c.array(o.keys, "keys");
  const ids = new Set<string>();
  const keys = list?.map((v, i): KeySpec | undefined => {
    const path = `keys[${i}]`;
    const k = c.object(v, path, ["id", "sha256", "routes", "limit", "tokensPerMinute"]);
    if (!k) return undefined;
    const id = c.string(k.id, `${path}.id`, { pattern: /^[A-Za-z0-9._-]{1,128}$/, what: "a key id" });
    if (id !== undefined && ids.has(id)) c.fail(`${path}.id`, `"${id}" appears twice`);
    if (id !== undefined) ids.add(id);
    // The key itself must never reach the gateway: only a hash has this shape.
    const sha256 = c.string(k.sha256, `${path}.sha256`, { pattern: /^[0-9a-fA-F]{64}$/, what: "a hex sha256" });
    const routes = c.optional(k, "routes", (r) => c.strings(r, `${path}.routes`));
    const limit = c.optional(k, "limit", (l) => checkLimit(c, l, `${path}.limit`));
    const tokensPerMinute = c.optional(k, "tokensPerMinute", (n) =>
      c.number(n, `${path}.tokensPerMinute`, { min: 1, integer: true }),
    );
    if (id === undefined || sha256 === undefined) return undefined;
    return defined({ id, sha256: sha256.toLowerCase(), routes, limit, tokensPerMinute }) as KeySpec;
  });
  if (c.issues.length > 0 || name === undefined || source === undefined) return undefined;
  return { name, source, keys: keys as KeySpec[] };
}

function range(c: Checker, v: unknown, path: string): [number, number] | undefined {
  const a = c.array(v, path);
  if (!a) return undefined;
  const lo = c.number(a[0], `${path}[0]`);
  const hi = c.number(a[1], `${path}[1]`);
  if (a.length !== 2) return c.fail(path, "must be [min, max]");
  if (lo !== undefined && hi !== undefined && lo > hi) return c.fail(path, "min is above max");
  return lo === undefined || hi === undefined ? undefined : [lo, hi];
}

function profile(c: Checker, o: Record<string, unknown>, name: string | undefined, source: Source | undefined) {
  const model = c.string(o.model, "model");
  const params = c.optional(o, "params", (v) => {
    const p = c.object(v, "params", ["temperature", "top_p", "max_tokens", "stop"]);
    if (!p) return undefined;
    return defined({
      temperature: c.optional(p, "temperature", (n) => c.number(n, "params.temperature", { min: 0, max: 2 })),
      top_p: c.optional(p, "top_p", (n) => c.number(n, "params.top_p", { min: 0, max: 1 })),
      max_tokens: c.optional(p, "max_tokens", (n) => c.number(n, "params.max_tokens", { min: 1, integer: true })),
      stop: c.optional(p, "stop", (s) => c.strings(s, "params.stop")),
    });
  });
  const bounds = c.optional(o, "bounds", (v) => {
    const b = c.object(v, "bounds", ["temperature", "top_p", "max_tokens"]);
    if (!b) return undefined;
    return defined({
      temperature: c.optional(b, "temperature", (r) => range(c, r, "bounds.temperature")),
      top_p: c.optional(b, "top_p", (r) => range(c, r, "bounds.top_p")),
      max_tokens: c.optional(b, "max_tokens", (n) => c.number(n, "bounds.max_tokens", { min: 1, integer: true })),
    });
  });
  const protocol = c.optional(o, "protocol", (v) =>
    v === "chat" || v === "completion" ? v : c.fail("protocol", 'must be "chat" or "completion"'),
  );
  const systemPrompt = c.optional(o, "systemPrompt", (v) => c.string(v, "systemPrompt", { empty: true }));
  const history = c.optional(o, "history", (v) => {
    const h = c.object(v, "history", ["retention", "ttlSeconds", "maxTurns", "header"]);
    if (!h) return undefined;
    const retention =
      h.retention === "none" || h.retention === "session"
        ? h.retention
        : c.fail("history.retention", 'must be "none" or "session"');
    const rest = defined({
      ttlSeconds: c.optional(h, "ttlSeconds", (n) => c.number(n, "history.ttlSeconds", { min: 1, integer: true })),
      maxTurns: c.optional(h, "maxTurns", (n) => c.number(n, "history.maxTurns", { min: 1, integer: true })),
      header: c
        .optional(h, "header", (s) =>
          c.string(s, "history.header", { pattern: /^[A-Za-z0-9-]+$/, what: "a header name" }),
        )
        ?.toLowerCase(),
    });
    return retention === undefined ? undefined : { retention, ...rest };
  });
  const tokensPerMinute = c.optional(o, "tokensPerMinute", (n) =>
    c.number(n, "tokensPerMinute", { min: 1, integer: true }),
  );
  if (c.issues.length > 0 || name === undefined || source === undefined || model === undefined) return undefined;
  return defined({
    name,
    source,
    model,
    params,
    bounds,
    protocol,
    systemPrompt,
    history,
    tokensPerMinute,
  }) as ProfileSpec;
}

const fields: Readonly<Record<SpecKind, readonly string[]>> = {
  routes: ["name", "source", "match", "upstreams", "timeouts", "auth", "limit", "profile", "tasks"],
  keysets: ["name", "source", "keys"],
  profiles: ["name", "source", "model", "params", "bounds", "protocol", "systemPrompt", "history", "tokensPerMinute"],
};

const checkers = { routes: route, keysets: keySet, profiles: profile } as const;

/** Checks `body` as an object of `kind` named `name` (the admin path's); throws a {@link ValidationError}. */
export function validateSpec<K extends SpecKind>(kind: K, name: string, body: unknown): GatewaySpecs[K] {
  const c = new Checker();
  const o = c.object(body, "", fields[kind]);
  if (!o) throw new ValidationError(["body: must be a JSON object"]);
  const checkedName = checkName(c, o, name);
  const source = checkSource(c, o.source);
  const spec = checkers[kind](c, o, checkedName, source);
  if (c.issues.length > 0 || spec === undefined) throw new ValidationError(c.issues);
  return spec as GatewaySpecs[K];
}

/** What a PUT did: `applied` a new object, generation or content, or `unchanged` (a replay of the live object). */
export type PutOutcome = "applied" | "unchanged";

/**
 * The live objects. Every change is synchronous and calls `onChange` before it returns, so that a PUT's answer is sent
 * only once the data plane uses what it put.
 */
export class LiveState {
  readonly #objects: { [K in SpecKind]: Map<string, GatewaySpecs[K]> } = {
    routes: new Map(),
    keysets: new Map(),
    profiles: new Map(),
  };
  readonly #onChange: () => void;

  constructor(onChange: () => void) {
    this.#onChange = onChange;
  }

  /**
   * Makes `spec` live. The live generation with the same content changes nothing; with other content it is applied,
   * since an object's content also follows what its source depends on (a Secret's keys), which the source's generation
   * does not count. An older generation of the same uid throws ConflictError.
   */
  put<K extends SpecKind>(kind: K, spec: GatewaySpecs[K]): PutOutcome {
    const map = this.#objects[kind] as Map<string, GatewaySpecs[K]>;
    const live = map.get(spec.name);
    if (live && live.source.uid === spec.source.uid) {
      if (spec.source.generation === live.source.generation && isDeepStrictEqual(spec, live)) return "unchanged";
      if (spec.source.generation < live.source.generation) {
        throw new ConflictError(
          `${kind}/${spec.name}: generation ${spec.source.generation} is older than the live ${live.source.generation} of uid ${spec.source.uid}`,
        );
      }
    }
    map.set(spec.name, spec);
    this.#onChange();
    return "applied";
  }

  /** Removes an object; false when there was none. */
  delete(kind: SpecKind, name: string): boolean {
    const removed = this.#objects[kind].delete(name);
    if (removed) this.#onChange();
    return removed;
  }

  get<K extends SpecKind>(kind: K, name: string): GatewaySpecs[K] | undefined {
    return (this.#objects[kind] as Map<string, GatewaySpecs[K]>).get(name);
  }

  list<K extends SpecKind>(kind: K): GatewaySpecs[K][] {
    return [...(this.#objects[kind] as Map<string, GatewaySpecs[K]>).values()];
  }
}
