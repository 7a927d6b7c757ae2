/**
 * Applying an LLM profile to a caller's body. The profile's model always replaces the caller's: a route is bound to
 * one profile, so the caller's `model` selects nothing, and OpenAI clients must send one anyway (often hard-coded);
 * refusing a mismatch would break every client each time an operator retargets the profile, which is what profiles
 * are for. `GET /v1/models` lists profile names, so a caller that asks knows what it will get.
 */
import { GatewayInputError } from "../errors.js";
import { countChatTokens, countTokens } from "./tokens.js";
import type { ChatMessage, ChatRequest, CompletionRequest, LlmProfile, LlmRequest } from "./wire.js";

/**
 * Tokens reserved for the answer when neither the caller, the profile's defaults nor its bounds cap `max_tokens`: the
 * budget settles with the real count at the end, so this only decides how much an open-ended request holds meanwhile.
 */
export const DEFAULT_RESERVED_COMPLETION_TOKENS = 4096;

/** Roles OpenAI's chat API accepts. */
const ROLES = new Set(["system", "developer", "user", "assistant", "tool", "function"]);

/** What `applyProfile` hands the core. */
export interface AppliedProfile {
  /** The body to send upstream (chat or completion as the profile's protocol says). */
  body: LlmRequest;
  /** Tokens to reserve in the budgets: the prompt estimate plus the answer's cap. */
  maxTokens: number;
  /** The prompt estimate alone, for `SseRelay`'s `promptTokens` when the upstream reports no usage. */
  promptTokens: number;
  /** Caller fields brought within the profile's bounds, e.g. `["temperature"]` for an `x-kindwatch-clamped` header. */
  clamped: string[];
}

function bad(message: string, param: string): never {
  throw new GatewayInputError(400, message, param, "invalid_request_error");
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optionalNumber(body: Record<string, unknown>, field: string, min: number, max: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) {
    bad(`${field} must be a number from ${min} to ${max}`, field);
  }
  return v;
}

function optionalCount(body: Record<string, unknown>, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) bad(`${field} must be a positive integer`, field);
  return v;
}

function checkStop(v: unknown): void {
  if (v === undefined || v === null || typeof v === "string") return;
  if (!Array.isArray(v) || v.some((s) => typeof s !== "string"))
    bad("stop must be a string or an array of strings", "stop");
}

function checkMessages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) bad("messages must be a non-empty array", "messages");
  v.forEach((m: unknown, i) => {
    const at = `messages[${i}]`;
    if (!isObject(m)) bad(`${at} must be an object`, at);
    if (typeof m.role !== "string" || !ROLES.has(m.role)) {
      bad(`${at}.role must be one of ${[...ROLES].join(", ")}`, `${at}.role`);
    }
    const content = m.content;
    const toolCalls = m.role === "assistant" && Array.isArray(m.tool_calls);
    if (typeof content === "string" || ((content === null || content === undefined) && toolCalls)) {
      // a string, or no content beside tool calls
    } else if (Array.isArray(content)) {
      content.forEach((part: unknown, j) => {
        const pat = `${at}.content[${j}]`;
        if (!isObject(part) || typeof part.type !== "string") bad(`${pat} must be an object with a string type`, pat);
        if (part.type === "text" && typeof part.text !== "string") bad(`${pat}.text must be a string`, `${pat}.text`);
      });
    } else {
      bad(`${at}.content must be a string or an array of content parts`, `${at}.content`);
    }
    if (m.name !== undefined && typeof m.name !== "string") bad(`${at}.name must be a string`, `${at}.name`);
  });
  return v as ChatMessage[];
}

function checkPrompt(v: unknown): string | string[] {
  if (typeof v === "string") return v;
  if (Array.isArray(v) && v.length > 0 && v.every((p) => typeof p === "string")) return v as string[];
  return bad("prompt must be a string or a non-empty array of strings", "prompt");
}

function clampRange(
  value: number | undefined,
  bounds: readonly [number, number] | undefined,
): { value: number | undefined; clamped: boolean } {
  if (value === undefined || bounds === undefined) return { value, clamped: false };
  const next = Math.min(Math.max(value, bounds[0]), bounds[1]);
  return { value: next, clamped: next !== value };
}

/**
 * Applies `profile` to a caller's `/v1/chat/completions` (protocol `chat`, the default) or `/v1/completions` body:
 * validates it (a `GatewayInputError` 400 naming the field), sets the profile's model, puts the system prompt first
 * (a system message before `history` and the caller's messages; a prefix of the prompt on completions), fills the
 * profile's defaults where the caller gave none, clamps the caller's values to the bounds (reported in `clamped`), and
 * asks a streaming upstream for usage. `history` (chat only) goes between the system prompt and the caller's messages.
 */
export function applyProfile(body: unknown, profile: LlmProfile, history: readonly ChatMessage[] = []): AppliedProfile {
  if (!isObject(body)) bad("the request body must be a JSON object", "body");
  if (body.model !== undefined && typeof body.model !== "string") bad("model must be a string", "model");
  const temperature = optionalNumber(body, "temperature", 0, 2);
  const topP = optionalNumber(body, "top_p", 0, 1);
  const maxTokens = optionalCount(body, "max_tokens");
  const maxCompletionTokens = optionalCount(body, "max_completion_tokens");
  checkStop(body.stop);
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== "boolean") {
    bad("stream must be a boolean", "stream");
  }
  if (body.stream_options !== undefined && body.stream_options !== null && !isObject(body.stream_options)) {
    bad("stream_options must be an object", "stream_options");
  }
  const chat = (profile.protocol ?? "chat") === "chat";
  const messages = chat ? checkMessages(body.messages) : undefined;
  const prompt = chat ? undefined : checkPrompt(body.prompt);

  const params = profile.params ?? {};
  const bounds = profile.bounds ?? {};
  const clamped: string[] = [];
  const out: Record<string, unknown> = { ...body, model: profile.model };

  const t = clampRange(temperature, bounds.temperature);
  if (t.clamped) clamped.push("temperature");
  const temperatureOut = t.value ?? clampRange(params.temperature, bounds.temperature).value;
  if (temperatureOut !== undefined) out.temperature = temperatureOut;

  const p = clampRange(topP, bounds.top_p);
  if (p.clamped) clamped.push("top_p");
  const topPOut = p.value ?? clampRange(params.top_p, bounds.top_p).value;
  if (topPOut !== undefined) out.top_p = topPOut;

  // The answer's cap: the caller's own fields, each bounded (an upstream may read either name, so a bound on one only
  // would be a way around it), else the profile's default, else its bound.
  const bound = bounds.max_tokens;
  let cap: number | undefined;
  for (const [field, value] of [
    ["max_tokens", maxTokens],
    ["max_completion_tokens", maxCompletionTokens],
  ] as const) {
    if (value === undefined) continue;
    const bounded = bound !== undefined && value > bound ? bound : value;
    if (bounded !== value) clamped.push(field);
    out[field] = bounded;
    cap = Math.max(cap ?? 0, bounded);
  }
  if (cap === undefined) {
    const fallback = params.max_tokens;
    cap = fallback !== undefined && bound !== undefined ? Math.min(fallback, bound) : (fallback ?? bound);
    if (cap !== undefined) out.max_tokens = cap;
  }

  if ((body.stop === undefined || body.stop === null) && params.stop !== undefined) out.stop = [...params.stop];
  if (body.stream === true) {
    // Without it a streaming upstream reports no usage and every streamed count would be an estimate.
    out.stream_options = { ...(isObject(body.stream_options) ? body.stream_options : {}), include_usage: true };
  }

  const choices = optionalCount(body, "n") ?? 1;
  const answerCap = cap ?? DEFAULT_RESERVED_COMPLETION_TOKENS;
  if (messages !== undefined) {
    const system: ChatMessage[] =
      profile.systemPrompt !== undefined ? [{ role: "system", content: profile.systemPrompt }] : [];
    const all = [...system, ...history, ...messages];
    out.messages = all;
    const promptTokens = countChatTokens(all, profile.model);
    return { body: out as ChatRequest, maxTokens: promptTokens + choices * answerCap, promptTokens, clamped };
  }
  const prefix = profile.systemPrompt !== undefined ? `${profile.systemPrompt}\n\n` : "";
  const prompts = (typeof prompt === "string" ? [prompt] : (prompt ?? [])).map((one) => prefix + one);
  out.prompt = typeof prompt === "string" ? prompts[0] : prompts;
  const promptTokens = prompts.reduce((n, one) => n + countTokens(one, profile.model), 0);
  // Each prompt of an array is answered on its own, so each reserves its own answers.
  const answers = prompts.length * choices;
  return { body: out as CompletionRequest, maxTokens: promptTokens + answers * answerCap, promptTokens, clamped };
}
