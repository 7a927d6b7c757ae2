/**
 * Prompt templates published as task APIs (`POST /v1/tasks/NAME {"text": ...}`). A template names its variables as
 * `{{name}}`; rendering is one pass over the template, so a value that itself contains `{{x}}` stays literal text.
 */
import { GatewayInputError } from "../errors.js";
import { type AppliedProfile, applyProfile } from "./profile.js";
import type { ChatMessage, LlmProfile, LlmTask } from "./wire.js";

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}/g;

/** The variable names a template uses, in order of first use. */
export function templateVariables(template: string): string[] {
  return [...new Set(Array.from(template.matchAll(PLACEHOLDER), (m) => m[1] ?? ""))];
}

/**
 * What is wrong with a task's declaration (for the admin API's 400), or undefined: a variable name a placeholder could
 * not match, or a placeholder that is not declared.
 */
export function taskProblem(task: LlmTask): { message: string; field: string } | undefined {
  const declared = new Set(task.variables);
  for (const v of task.variables) {
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(v))
      return { message: `variable name "${v}" is not valid`, field: "variables" };
  }
  const used = templateVariables(task.template);
  const undeclared = used.filter((v) => !declared.has(v));
  if (undeclared.length === 0) return undefined;
  return { message: `the template uses undeclared variables: ${undeclared.join(", ")}`, field: "template" };
}

function bad(message: string, param: string): never {
  throw new GatewayInputError(400, message, param, "invalid_request_error");
}

/**
 * Renders `task`'s template with `input`: every declared variable is required (a 400 naming all the missing ones),
 * an input key the task does not declare is refused (named), values are strings or finite numbers (written out).
 */
export function renderTask(task: LlmTask, input: Record<string, unknown>): string {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    bad("the request body must be a JSON object of the task's variables", "body");
  }
  const declared = new Set(task.variables);
  const unknown = Object.keys(input).filter((k) => !declared.has(k));
  if (unknown.length > 0) {
    bad(
      `unknown variables for task ${task.name}: ${unknown.join(", ")} (it takes ${task.variables.join(", ")})`,
      unknown[0] ?? "body",
    );
  }
  const missing = task.variables.filter((v) => input[v] === undefined || input[v] === null);
  if (missing.length > 0) bad(`missing variables for task ${task.name}: ${missing.join(", ")}`, missing[0] ?? "body");
  const values = new Map<string, string>();
  for (const v of task.variables) {
    const value = input[v];
    if (typeof value === "string") values.set(v, value);
    else if (typeof value === "number" && Number.isFinite(value)) values.set(v, String(value));
    else bad(`variable ${v} must be a string or a number`, v);
  }
  // Undeclared placeholders are the admin API's to refuse (taskProblem); should one slip through it stays as written.
  return task.template.replace(PLACEHOLDER, (whole, name: string) => values.get(name) ?? whole);
}

/**
 * The upstream request of `POST /v1/tasks/NAME`: the rendered template as the user message (chat) or the prompt
 * (completion), with `profile` applied as on `/v1/chat/completions`. Tasks answer in one piece, not streamed.
 */
export function taskRequest(
  task: LlmTask,
  profile: LlmProfile,
  input: Record<string, unknown>,
  history: readonly ChatMessage[] = [],
): AppliedProfile {
  const text = renderTask(task, input);
  const body =
    (profile.protocol ?? "chat") === "chat" ? { messages: [{ role: "user", content: text }] } : { prompt: text };
  return applyProfile(body, profile, history);
}
