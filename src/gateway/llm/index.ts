/** The gateway's LLM layer: OpenAI wire types, profiles, token counting, SSE relaying, sessions and task templates. */

export { GatewayInputError } from "../errors.js";
export { type AppliedProfile, applyProfile, DEFAULT_RESERVED_COMPLETION_TOKENS } from "./profile.js";
export {
  checkSessionId,
  HISTORY_DEFAULTS,
  memorySessions,
  redisSessions,
  type SessionStore,
} from "./sessions.js";
export { type RelayEnd, SseRelay } from "./sse.js";
export { renderTask, taskProblem, taskRequest, templateVariables } from "./tasks.js";
export { contentText, countChatTokens, countTokens, loadTokenizers } from "./tokens.js";
export { usageOfJson } from "./usage.js";
export {
  type ChatMessage,
  type ChatRequest,
  type CompletionRequest,
  type CompletionResponse,
  type ContentPart,
  type HistorySpec,
  type LlmProfile,
  type LlmRequest,
  type LlmTask,
  type ModelEntry,
  type ModelList,
  modelList,
  type SamplingFields,
  type StreamChunk,
  type Usage,
  type WireError,
  type WireUsage,
  wireError,
} from "./wire.js";
