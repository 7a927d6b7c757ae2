/**
 * The parts of OpenAI's wire format the gateway reads or writes: chat completions and completions, stream chunks,
 * usage, errors, the model listing. Every request and answer type keeps unknown fields (`[field: string]: unknown`):
 * the gateway passes through what it does not touch, so a field OpenAI adds tomorrow still reaches the upstream.
 */
import type { ProfileSpec, TaskSpec } from "../state.js";

/** A part of a message's content: `{"type":"text","text":...}`, or an image/audio part the gateway passes through. */
export interface ContentPart {
  type: string;
  text?: string;
  [field: string]: unknown;
}

/** One chat message. `content` is null only on an assistant message that carries tool calls. */
export interface ChatMessage {
  role: string;
  content: string | ContentPart[] | null;
  name?: string;
  [field: string]: unknown;
}

/** The fields the gateway sets or bounds on both request kinds. */
export interface SamplingFields {
  model: string;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  /** OpenAI's newer name for `max_tokens` on chat; bounded the same way. */
  max_completion_tokens?: number;
  stop?: string | string[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean; [field: string]: unknown };
  [field: string]: unknown;
}

/** `POST /v1/chat/completions` body. */
export interface ChatRequest extends SamplingFields {
  messages: ChatMessage[];
}

/** `POST /v1/completions` body (a prompt of token arrays is refused by the gateway). */
export interface CompletionRequest extends SamplingFields {
  prompt: string | string[];
}

/** Either request kind, as a profile's `protocol` says. */
export type LlmRequest = ChatRequest | CompletionRequest;

/** OpenAI's usage object, on a final answer or on the last stream chunk when `include_usage` was asked. */
export interface WireUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens?: number;
  [field: string]: unknown;
}

/** A non-streamed chat or completion answer. */
export interface CompletionResponse {
  id?: string;
  object?: string;
  model?: string;
  choices: {
    index?: number;
    message?: ChatMessage;
    text?: string;
    finish_reason?: string | null;
    [field: string]: unknown;
  }[];
  usage?: WireUsage;
  [field: string]: unknown;
}

/** One `data:` event of a stream: deltas for chat, `text` for completions, `usage` on the last one when asked. */
export interface StreamChunk {
  id?: string;
  object?: string;
  model?: string;
  choices?: {
    index?: number;
    delta?: { role?: string; content?: string | null; [field: string]: unknown };
    text?: string;
    finish_reason?: string | null;
    [field: string]: unknown;
  }[];
  usage?: WireUsage | null;
  error?: WireError["error"];
  [field: string]: unknown;
}

/** OpenAI's error body. */
export interface WireError {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** An entry of `GET /v1/models`. */
export interface ModelEntry {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  /** The upstream model the profile sends (vLLM lists it under this name too). */
  root: string;
}

/** `GET /v1/models`. */
export interface ModelList {
  object: "list";
  data: ModelEntry[];
}

/** Token usage of one answer; `estimated` when the gateway counted instead of the upstream. */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  estimated: boolean;
}

/** The profile fields llm reads: the core's `ProfileSpec` (state.ts) without its source. */
export type LlmProfile = Omit<ProfileSpec, "source">;

/** A profile's history settings: the core's `ProfileSpec["history"]`. */
export type HistorySpec = NonNullable<ProfileSpec["history"]>;

/** A prompt template published as `POST /v1/tasks/NAME` (core's `TaskSpec`). */
export type LlmTask = TaskSpec;

/** Builds `GET /v1/models` from the profiles a key may use: one entry per profile name, sorted, no duplicates. */
export function modelList(profiles: readonly LlmProfile[]): ModelList {
  const byName = new Map<string, LlmProfile>();
  for (const p of profiles) byName.set(p.name, p);
  const data = [...byName.values()]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((p): ModelEntry => ({ id: p.name, object: "model", created: 0, owned_by: "kindwatch", root: p.model }));
  return { object: "list", data };
}

/** The OpenAI-format error body for `message` (core renders `GatewayInputError`s with its own; this one serves SSE). */
export function wireError(message: string, type: string, code: string | null, param: string | null = null): WireError {
  return { error: { message, type, param, code } };
}
