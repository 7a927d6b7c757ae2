/** Usage of a non-streamed answer. */
import { contentText, countChatTokens, countTokens } from "./tokens.js";
import type { CompletionResponse, LlmRequest, Usage } from "./wire.js";

/**
 * The usage of a non-streamed chat or completion answer: the upstream's `usage` when it has one, else the request's
 * prompt estimate and the answer's text counted, marked `estimated`.
 */
export function usageOfJson(body: unknown, request: LlmRequest): Usage {
  const answer = (typeof body === "object" && body !== null ? body : {}) as Partial<CompletionResponse>;
  const u = answer.usage;
  if (typeof u === "object" && u !== null && typeof u.prompt_tokens === "number") {
    if (typeof u.completion_tokens === "number") {
      return { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens, estimated: false };
    }
  }
  const model = request.model;
  const promptTokens =
    "messages" in request && Array.isArray(request.messages)
      ? countChatTokens(request.messages, model)
      : (Array.isArray(request.prompt) ? request.prompt : [String(request.prompt ?? "")]).reduce(
          (n, p) => n + countTokens(p, model),
          0,
        );
  let completionTokens = 0;
  for (const choice of Array.isArray(answer.choices) ? answer.choices : []) {
    if (typeof choice !== "object" || choice === null) continue;
    if (typeof choice.text === "string") completionTokens += countTokens(choice.text, model);
    const message = choice.message;
    if (typeof message !== "object" || message === null) continue;
    completionTokens += countTokens(contentText(message.content), model);
    if (Array.isArray(message.tool_calls)) {
      for (const call of message.tool_calls as { function?: { name?: unknown; arguments?: unknown } }[]) {
        if (typeof call?.function?.name === "string") completionTokens += countTokens(call.function.name, model);
        if (typeof call?.function?.arguments === "string") {
          completionTokens += countTokens(call.function.arguments, model);
        }
      }
    }
  }
  return { promptTokens, completionTokens, estimated: true };
}
