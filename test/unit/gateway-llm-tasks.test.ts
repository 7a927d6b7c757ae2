/** Prompt templates as task APIs: variables required and checked, values never re-expanded. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ChatRequest,
  type CompletionRequest,
  GatewayInputError,
  type LlmTask,
  renderTask,
  taskProblem,
  taskRequest,
  templateVariables,
} from "../../src/gateway/llm/index.js";

const task: LlmTask = {
  name: "translate",
  template: "Translate from {{from}} to {{ to }} in {{words}} words: {{text}}",
  variables: ["from", "to", "words", "text"],
};

function refuses(fn: () => unknown, param: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayInputError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.param, param);
    assert.match(err.message, message);
    return true;
  });
}

describe("renderTask", () => {
  it("fills every variable, numbers written out", () => {
    const out = renderTask(task, { from: "fr", to: "en", words: 12, text: "Bonjour" });
    assert.equal(out, "Translate from fr to en in 12 words: Bonjour");
  });

  it("never expands a placeholder that arrives inside a value", () => {
    const out = renderTask(task, { from: "{{to}}", to: "en", words: "{{text}}", text: "{{from}} }}{{" });
    assert.equal(out, "Translate from {{to}} to en in {{text}} words: {{from}} }}{{");
  });

  it("refuses missing variables naming them all, unknown ones naming them, and values of other types", () => {
    refuses(() => renderTask(task, { text: "x" }), "from", /missing variables for task translate: from, to, words$/);
    refuses(
      () => renderTask(task, { from: "a", to: "b", words: null, text: "x" }),
      "words",
      /missing variables .*: words$/,
    );
    refuses(
      () => renderTask(task, { from: "a", to: "b", words: 1, text: "x", tone: "dry", style: "y" }),
      "tone",
      /unknown variables for task translate: tone, style/,
    );
    refuses(() => renderTask(task, { from: "a", to: "b", words: [1], text: "x" }), "words", /string or a number/);
    refuses(
      () => renderTask(task, { from: "a", to: "b", words: Number.NaN, text: "x" }),
      "words",
      /string or a number/,
    );
    refuses(() => renderTask(task, [] as unknown as Record<string, unknown>), "body", /JSON object/);
  });
});

describe("task declarations", () => {
  it("lists a template's variables and refuses undeclared placeholders and bad names", () => {
    assert.deepEqual(templateVariables("{{a}} {{ b }} {{a}} {x} {{ c-d }}"), ["a", "b", "c-d"]);
    assert.equal(taskProblem(task), undefined);
    assert.deepEqual(taskProblem({ ...task, variables: ["from", "to", "text"] }), {
      message: "the template uses undeclared variables: words",
      field: "template",
    });
    assert.equal(taskProblem({ ...task, variables: [...task.variables, "a b"] })?.field, "variables");
  });
});

describe("taskRequest", () => {
  const input = { from: "fr", to: "en", words: 5, text: "Salut" };

  it("sends the rendered template as the user message under the profile", () => {
    const profile = { name: "tr", model: "gpt-4o", systemPrompt: "Be exact.", params: { max_tokens: 64 } };
    const out = taskRequest(task, profile, input);
    const body = out.body as ChatRequest;
    assert.equal(body.model, "gpt-4o");
    assert.deepEqual(body.messages, [
      { role: "system", content: "Be exact." },
      { role: "user", content: "Translate from fr to en in 5 words: Salut" },
    ]);
    assert.equal(body.max_tokens, 64);
    assert.equal(out.maxTokens, out.promptTokens + 64);
  });

  it("sends it as the prompt under a completion profile", () => {
    const out = taskRequest(task, { name: "tr", model: "davinci-002", protocol: "completion" }, input);
    assert.equal((out.body as CompletionRequest).prompt, "Translate from fr to en in 5 words: Salut");
  });
});
