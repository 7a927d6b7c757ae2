/**
 * The data plane's LLM stage, for routes with a profile: OpenAI's endpoints shaped by the profile, token budgets
 * reserved at admission and settled when the answer ends (however it ends), session history, task APIs, and the
 * telemetry of tokens and streams.
 *
 * Usage of a stream is told to the client in an SSE comment after the stream (`: kindwatch-usage {...}`, with
 * `"estimated": true` when the gateway counted it because the upstream sent none): headers are long gone by then, and
 * SSE clients skip comments. Non-streamed answers pass through as the upstream wrote them; whether their usage was
 * estimated goes to telemetry only.
 */
import type { IncomingHttpHeaders } from "node:http";
import { GatewayInputError } from "./errors.js";
import { type Reservation, rateLimitHeaders, type TokenBudgets } from "./limits/index.js";
import { LimitsUnavailableError } from "./limits/types.js";
import {
  type AppliedProfile,
  applyProfile,
  type ChatMessage,
  checkSessionId,
  contentText,
  HISTORY_DEFAULTS,
  modelList,
  type RelayEnd,
  type SessionStore,
  SseRelay,
  taskRequest,
  type Usage,
  usageOfJson,
} from "./llm/index.js";
import type { KeySpec, ProfileSpec, RouteSpec } from "./state.js";
import type { GatewayTelemetry } from "./telemetry-types.js";
import type { ResponseRelay } from "./upstream.js";

/** What the LLM stage needs of the data plane. */
export interface LlmStageDeps {
  readonly budgets: TokenBudgets | undefined;
  readonly sessions: SessionStore | undefined;
  readonly telemetry: GatewayTelemetry;
  /** The live routes with their resolved profiles, for `/v1/models`. */
  readonly routes: () => Iterable<{ readonly spec: RouteSpec; readonly profile: ProfileSpec | undefined }>;
}

/** One request on a profile route as the stage sees it. */
export interface LlmInput {
  readonly route: RouteSpec;
  readonly profile: ProfileSpec;
  readonly key: KeySpec | undefined;
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Uint8Array | undefined;
  /** Headers of the answer; the stage adds `x-ratelimit-*-tokens` and `x-kindwatch-clamped`. */
  readonly answerHeaders: Record<string, string>;
  /** `performance.now()` when the request came. */
  readonly startedAt: number;
}

/** What the stage decided: answer here, or forward a shaped request and call `finish` once the answer has ended. */
export type LlmOutcome =
  | { readonly kind: "answer"; readonly status: number; readonly json: unknown }
  | { readonly kind: "forward"; readonly body: Uint8Array; readonly path: string; readonly call: LlmCall }
  | undefined;

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);
/** An SSE line `data: [DONE]`: the end of an OpenAI stream (a JSON event cannot hold a raw newline, so no false hit). */
const doneLine = /(^|\n)data: ?\[DONE\]/;

function bad(status: number, message: string, param?: string, code?: string): never {
  throw new GatewayInputError(status, message, param, code);
}

function parseJson(body: Uint8Array | undefined): unknown {
  if (!body) bad(400, "The request needs a JSON body.", "body", "invalid_json");
  try {
    return JSON.parse(Buffer.from(body).toString("utf8"));
  } catch (err) {
    return bad(400, `The request body is not valid JSON: ${(err as Error).message}`, "body", "invalid_json");
  }
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A task's name from its path segment; one that does not decode names no task. */
function taskName(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Whether `key` may use `route`: an open route, or a route of the key's key set that its `routes` allow. */
function usable(route: RouteSpec, key: KeySpec | undefined, keySet: string | undefined): boolean {
  if (!route.auth) return true;
  if (!key || route.auth.keySet !== keySet) return false;
  return !key.routes || key.routes.includes(route.name);
}

/** Limits on the stage's decisions that are unreachable answer 503, as the request limits do. */
async function reserveOrUnavailable(
  budgets: TokenBudgets,
  name: string,
  tokensPerMinute: number,
  tokens: number,
): ReturnType<TokenBudgets["reserve"]> {
  try {
    return await budgets.reserve(name, tokensPerMinute, tokens);
  } catch (err) {
    if (err instanceof LimitsUnavailableError) bad(503, err.message, undefined, err.code);
    throw err;
  }
}

/**
 * Runs the stage: `GET /v1/models` answered here; `/v1/chat/completions`, `/v1/completions` and `/v1/tasks/NAME`
 * shaped by the profile and admitted by the token budgets; any other path passes as sent.
 */
export async function llmStage(input: LlmInput, deps: LlmStageDeps): Promise<LlmOutcome> {
  const { route, profile } = input;
  const [pathname = "", query] = input.path.split(/\?(.*)/s, 2);
  const chat = (profile.protocol ?? "chat") === "chat";
  const endpoint = chat ? "/v1/chat/completions" : "/v1/completions";

  if (pathname.endsWith("/v1/models") && input.method === "GET") {
    const keySet = route.auth?.keySet;
    const profiles = [...deps.routes()]
      .filter((r) => r.profile !== undefined && usable(r.spec, input.key, keySet))
      .map((r) => r.profile as ProfileSpec);
    return { kind: "answer", status: 200, json: modelList(profiles) };
  }

  const task = /^(.*)\/v1\/tasks\/([^/]+)$/.exec(pathname);
  let base: string;
  if (task) {
    base = task[1] ?? "";
  } else if (pathname.endsWith("/v1/chat/completions") || pathname.endsWith("/v1/completions")) {
    base = pathname.slice(0, pathname.lastIndexOf("/v1/"));
    if (!pathname.endsWith(endpoint)) {
      bad(404, `Profile ${profile.name} speaks the ${chat ? "chat" : "completion"} protocol: use ${endpoint}.`);
    }
  } else {
    return undefined;
  }
  if (input.method !== "POST") {
    throw new GatewayInputError(405, `${pathname} takes POST.`, undefined, "method_not_allowed", { allow: "POST" });
  }

  const history = profile.history;
  const sessionHeader = (history?.header ?? HISTORY_DEFAULTS.header).toLowerCase();
  // Tasks are one-off: a session header on one neither reads nor extends the conversation.
  const sessionId =
    history?.retention === "session" && chat && !task && deps.sessions
      ? headerValue(input.headers, sessionHeader)
      : undefined;
  if (sessionId !== undefined) checkSessionId(sessionId, sessionHeader);

  const json = parseJson(input.body);
  let applied: AppliedProfile;
  let callerMessages: ChatMessage[] = [];
  let past: ChatMessage[] = [];
  if (task) {
    const name = taskName(task[2] ?? "");
    const spec = route.tasks?.find((t) => t.name === name);
    if (!spec) bad(404, `Route ${route.name} has no task ${name}.`, undefined, "task_not_found");
    applied = taskRequest(spec, profile, json as Record<string, unknown>);
  } else {
    if (sessionId !== undefined && deps.sessions) past = await sessionHistory(deps.sessions, profile.name, sessionId);
    applied = applyProfile(json, profile, past);
    const messages = (json as { messages?: unknown }).messages;
    if (Array.isArray(messages)) callerMessages = messages as ChatMessage[];
  }
  if (applied.clamped.length > 0) input.answerHeaders["x-kindwatch-clamped"] = applied.clamped.join(",");

  const reservations = await admitTokens(input, deps, applied.maxTokens);
  const call = new LlmCall({
    startedAt: input.startedAt,
    route,
    profile,
    key: input.key,
    applied,
    telemetry: deps.telemetry,
    reservations,
    session:
      sessionId !== undefined && deps.sessions && history
        ? { store: deps.sessions, id: sessionId, spec: history, messages: callerMessages }
        : undefined,
  });
  const path = `${base}${endpoint}${query === undefined ? "" : `?${query}`}`;
  return { kind: "forward", body: encoder.encode(JSON.stringify(applied.body)), path, call };
}

/** A session's history; a store that cannot answer is a 503, as unreachable limits are. */
async function sessionHistory(store: SessionStore, profile: string, session: string): Promise<ChatMessage[]> {
  try {
    return await store.get(profile, session);
  } catch (err) {
    if (err instanceof GatewayInputError) throw err;
    return bad(503, `Session history unavailable: ${(err as Error).message}`, undefined, "sessions_unavailable");
  }
}

/**
 * Reserves `tokens` from the profile's budget, then the key's; a refusal (429 with the `-tokens` headers) gives back
 * what was already taken. The tightest budget's figures go into the answer's headers.
 */
async function admitTokens(input: LlmInput, deps: LlmStageDeps, tokens: number): Promise<Reservation[]> {
  const { budgets } = deps;
  if (!budgets) return [];
  const wanted: [string, number | undefined][] = [
    [`tokens:profile:${input.profile.name}`, input.profile.tokensPerMinute],
    [`tokens:key:${input.route.auth?.keySet}:${input.key?.id}`, input.key?.tokensPerMinute],
  ];
  const held: Reservation[] = [];
  for (const [name, tokensPerMinute] of wanted) {
    if (tokensPerMinute === undefined) continue;
    let decision: Awaited<ReturnType<TokenBudgets["reserve"]>>;
    try {
      decision = await reserveOrUnavailable(budgets, name, tokensPerMinute, tokens);
    } catch (err) {
      await Promise.all(held.map((r) => r.settle(0)));
      throw err;
    }
    if (!decision.ok) {
      await Promise.all(held.map((r) => r.settle(0)));
      deps.telemetry.limited({
        route: input.route.name,
        ...(input.key ? { keyId: input.key.id } : {}),
        limit: "tokens",
      });
      throw new GatewayInputError(
        429,
        `Token budget reached for ${name}: ${tokens} tokens asked, ${decision.remaining} left.`,
        undefined,
        "rate_limit_exceeded",
        { ...input.answerHeaders, ...rateLimitHeaders(undefined, decision) },
      );
    }
    held.push(decision);
  }
  const tightest = held.reduce<Reservation | undefined>((a, r) => (a && a.remaining <= r.remaining ? a : r), undefined);
  if (tightest) Object.assign(input.answerHeaders, rateLimitHeaders(undefined, tightest));
  return held;
}

/** The SSE comment that tells a stream's client its usage and whether the gateway counted it. */
function usageComment(usage: Usage): string {
  const figures = {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
    estimated: usage.estimated,
  };
  return `: kindwatch-usage ${JSON.stringify(figures)}\n\n`;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Whether an SSE event's data carries answer text (the first token). */
function hasText(data: string): boolean {
  if (data === "[DONE]") return false;
  try {
    const chunk = JSON.parse(data) as { choices?: { delta?: { content?: unknown }; text?: unknown }[] };
    return (chunk.choices ?? []).some(
      (c) =>
        (typeof c.delta?.content === "string" && c.delta.content !== "") ||
        (typeof c.text === "string" && c.text !== ""),
    );
  } catch {
    return false;
  }
}

interface CallParts {
  readonly startedAt: number;
  readonly route: RouteSpec;
  readonly profile: ProfileSpec;
  readonly key: KeySpec | undefined;
  readonly applied: AppliedProfile;
  readonly telemetry: GatewayTelemetry;
  readonly reservations: readonly Reservation[];
  readonly session:
    | {
        readonly store: SessionStore;
        readonly id: string;
        readonly spec: NonNullable<ProfileSpec["history"]>;
        readonly messages: ChatMessage[];
      }
    | undefined;
}

/** One admitted LLM request: watches its answer pass, then settles its budgets and keeps its session turn. */
export class LlmCall {
  readonly #parts: CallParts;
  #upstream: string | undefined;
  #sse: SseRelay | undefined;
  /** The stream's end as the upstream delivered it; unset when the client left first. */
  #sseEnd: RelayEnd | undefined;
  #json: Uint8Array[] | undefined;
  #jsonComplete = false;
  #firstTokenAt: number | undefined;

  constructor(parts: CallParts) {
    this.#parts = parts;
  }

  /** The upstream's answer head arrived: a relay watches a 200's body (SSE or JSON); other answers pass unwatched. */
  readonly relayFor = (status: number, headers: IncomingHttpHeaders, upstream: string): ResponseRelay | undefined => {
    this.#upstream = upstream;
    if (status !== 200) return undefined;
    const { applied, route, profile } = this.#parts;
    const model = applied.body.model;
    if (applied.body.stream === true && String(headers["content-type"] ?? "").startsWith("text/event-stream")) {
      const sse = new SseRelay({
        model,
        promptTokens: () => applied.promptTokens,
        onEvent: (data) => {
          if (this.#firstTokenAt !== undefined || !hasText(data)) return;
          this.#firstTokenAt = performance.now();
          const seconds = (this.#firstTokenAt - this.#parts.startedAt) / 1000;
          this.#parts.telemetry.firstToken({ route: route.name, profile: profile.name, model, seconds });
        },
      });
      this.#sse = sse;
      // From the chunk that carries `data: [DONE]` on, bytes wait for the end: a client must not see the answer finish
      // before its session turn is kept (beforeEnd).
      const held: Uint8Array[] = [];
      const decoder = new TextDecoder();
      let recent = "";
      return {
        push: (chunk) => {
          const out = sse.push(chunk);
          if (held.length === 0) {
            const text = recent + decoder.decode(out, { stream: true });
            recent = text.slice(-16);
            if (!doneLine.test(text)) return out;
          }
          held.push(out);
          return EMPTY;
        },
        end: (err) => {
          const end = sse.end(err);
          this.#sseEnd = end;
          return { tail: concat(concat(...held), end.tail, encoder.encode(usageComment(end.usage))) };
        },
        beforeEnd: () => this.#keepTurn(),
      };
    }
    const parts: Uint8Array[] = [];
    this.#json = parts;
    return {
      // A JSON answer is of no use to its client until it is whole, so it goes out whole at the end, after the
      // session's turn is kept (beforeEnd).
      push: (chunk) => {
        parts.push(chunk);
        return EMPTY;
      },
      end: (err) => {
        this.#jsonComplete = err === undefined;
        return { tail: concat(...parts) };
      },
      beforeEnd: () => this.#keepTurn(),
    };
  };

  /** The answer's JSON body, once it arrived whole; undefined otherwise (cut, not JSON, not watched). */
  #jsonBody(): unknown {
    if (!this.#json || !this.#jsonComplete) return undefined;
    try {
      return JSON.parse(Buffer.concat(this.#json).toString("utf8"));
    } catch {
      return undefined;
    }
  }

  /**
   * Appends the session's turn once a complete answer is known, before its last bytes reach the client: a client that
   * sends its next turn the moment the answer ends (to this replica or another) finds this one in the history.
   */
  async #keepTurn(): Promise<void> {
    const { profile, session } = this.#parts;
    if (!session) return;
    let answer: string | undefined;
    if (this.#sse) {
      if (this.#sseEnd && !this.#sseEnd.cut) answer = this.#sse.content;
    } else {
      const body = this.#jsonBody() as { choices?: { message?: ChatMessage }[] } | undefined;
      const message = body?.choices?.[0]?.message;
      if (message) answer = contentText(message.content);
    }
    if (answer === undefined) return;
    const turn: ChatMessage[] = [...session.messages, { role: "assistant", content: answer }];
    // The answer is complete already: a store that fails now costs the session this turn, not the caller an error.
    await session.store.append(profile.name, session.id, turn, session.spec).catch(() => {});
  }

  /**
   * The answer has ended (delivered, cut, failed, or the client left): settles every reservation with the tokens used
   * (none when no upstream answered 200) and reports them; the session's turn was kept before the answer ended.
   * Returns the usage counted, for the access log and the request's span.
   */
  async finish(): Promise<Usage | undefined> {
    const { route, profile, key, applied, telemetry, reservations } = this.#parts;
    let usage: Usage | undefined;
    if (this.#sse) {
      // A client that left ended nothing: what passed until then is what the upstream produced for it.
      const end = this.#sseEnd ?? this.#sse.end(new Error("the client went away"));
      usage = end.usage;
      if (this.#sseEnd?.cut) telemetry.streamCut({ route: route.name, upstream: this.#upstream ?? "" });
    } else if (this.#json) {
      usage = usageOfJson(this.#jsonBody(), applied.body);
    }
    const used = usage ? usage.promptTokens + usage.completionTokens : 0;
    await Promise.all(reservations.map((r) => r.settle(used)));
    if (!usage) return undefined;
    const model = applied.body.model;
    telemetry.tokens({
      route: route.name,
      profile: profile.name,
      ...(key && route.auth ? { keyId: key.id, keySet: route.auth.keySet } : {}),
      model,
      input: usage.promptTokens,
      output: usage.completionTokens,
      estimated: usage.estimated,
    });
    if (this.#firstTokenAt !== undefined && usage.completionTokens > 1) {
      const seconds = (performance.now() - this.#firstTokenAt) / 1000 / (usage.completionTokens - 1);
      telemetry.perOutputToken({ route: route.name, profile: profile.name, model, seconds });
    }
    return usage;
  }
}
