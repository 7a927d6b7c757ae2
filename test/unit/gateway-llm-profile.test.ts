/** Profiles applied to callers' bodies: model, system prompt, defaults, bounds, validation, the reservation. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyProfile,
  type ChatRequest,
  type CompletionRequest,
  countChatTokens,
  DEFAULT_RESERVED_COMPLETION_TOKENS,
  GatewayInputError,
  type LlmProfile,
  modelList,
} from "../../src/gateway/llm/index.js";

const profile: LlmProfile = {
  name: "support",
  model: "gpt-4o-mini",
  systemPrompt: "You are terse.",
  params: { temperature: 0.2, top_p: 0.9, max_tokens: 256, stop: ["\n\n"] },
  bounds: { temperature: [0, 1], top_p: [0.5, 1], max_tokens: 512 },
};
const user = { role: "user", content: "hello world" };

/** Asserts that `fn` throws a 400 GatewayInputError naming `param`. */
function refuses(fn: () => unknown, param: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayInputError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.param, param, err.message);
    return true;
  });
}

describe("applyProfile", () => {
  it("sets the profile's model, puts its system prompt and the history first, fills its defaults", () => {
    const history = [
      { role: "user", content: "earlier" },
      { role: "assistant", content: "yes" },
    ];
    const out = applyProfile({ model: "whatever", messages: [user], user: "u-1" }, profile, history);
    const body = out.body as ChatRequest;
    assert.equal(body.model, "gpt-4o-mini");
    assert.deepEqual(body.messages, [{ role: "system", content: "You are terse." }, ...history, user]);
    assert.deepEqual([body.temperature, body.top_p, body.max_tokens, body.stop], [0.2, 0.9, 256, ["\n\n"]]);
    assert.equal(body.user, "u-1", "fields the profile does not touch pass through");
    assert.deepEqual(out.clamped, []);
    assert.equal(out.promptTokens, countChatTokens(body.messages, "gpt-4o-mini"));
    assert.equal(out.maxTokens, out.promptTokens + 256);
  });

  it("clamps the caller's values to the bounds and names each clamped field", () => {
    const out = applyProfile(
      { messages: [user], temperature: 1.7, top_p: 0.1, max_tokens: 4000, stop: "END" },
      profile,
    );
    const body = out.body as ChatRequest;
    assert.deepEqual([body.temperature, body.top_p, body.max_tokens, body.stop], [1, 0.5, 512, "END"]);
    assert.deepEqual(out.clamped, ["temperature", "top_p", "max_tokens"]);
    assert.equal(out.maxTokens, out.promptTokens + 512);
    const within = applyProfile({ messages: [user], temperature: 0.7, max_completion_tokens: 100 }, profile);
    assert.deepEqual(within.clamped, []);
    assert.equal((within.body as ChatRequest).temperature, 0.7);
    const newer = applyProfile({ messages: [user], max_completion_tokens: 9000, n: 2 }, profile);
    assert.deepEqual(newer.clamped, ["max_completion_tokens"]);
    assert.equal((newer.body as ChatRequest).max_completion_tokens, 512);
    assert.equal((newer.body as ChatRequest).max_tokens, undefined);
    assert.equal(newer.maxTokens, newer.promptTokens + 2 * 512, "each of n answers is reserved");
    const both = applyProfile({ messages: [user], max_tokens: 9000, max_completion_tokens: 100 }, profile);
    assert.deepEqual(both.clamped, ["max_tokens"]);
    assert.deepEqual([both.body.max_tokens, both.body.max_completion_tokens], [512, 100]);
    assert.equal(both.maxTokens, both.promptTokens + 512, "the larger cap is reserved");
  });

  it("reserves the bound, else a default, when nothing caps the answer", () => {
    const bare: LlmProfile = { name: "bare", model: "gpt-4o" };
    assert.equal(applyProfile({ messages: [user] }, { ...bare, bounds: { max_tokens: 300 } }).body.max_tokens, 300);
    const open = applyProfile({ messages: [user] }, bare);
    assert.equal(open.body.max_tokens, undefined);
    assert.equal(open.maxTokens, open.promptTokens + DEFAULT_RESERVED_COMPLETION_TOKENS);
  });

  it("asks a streaming upstream for usage, keeping the caller's other stream options", () => {
    const out = applyProfile({ messages: [user], stream: true, stream_options: { other: 1 } }, profile);
    assert.deepEqual(out.body.stream_options, { other: 1, include_usage: true });
    const off = applyProfile({ messages: [user], stream: true, stream_options: { include_usage: false } }, profile);
    assert.deepEqual(off.body.stream_options, { include_usage: true });
    assert.equal(applyProfile({ messages: [user] }, profile).body.stream_options, undefined);
  });

  it("prefixes a completion profile's prompt with the system prompt", () => {
    const completion: LlmProfile = { ...profile, protocol: "completion" };
    const one = applyProfile({ prompt: "Say hi" }, completion);
    assert.equal((one.body as CompletionRequest).prompt, "You are terse.\n\nSay hi");
    const two = applyProfile({ prompt: ["a", "b"], max_tokens: 10 }, completion);
    assert.deepEqual((two.body as CompletionRequest).prompt, ["You are terse.\n\na", "You are terse.\n\nb"]);
    assert.equal(two.maxTokens, two.promptTokens + 2 * 10);
    refuses(() => applyProfile({ messages: [user] }, completion), "prompt");
    refuses(() => applyProfile({ prompt: [1, 2] }, completion), "prompt");
  });

  it("refuses a malformed body with a 400 naming the field", () => {
    refuses(() => applyProfile([], profile), "body");
    refuses(() => applyProfile({}, profile), "messages");
    refuses(() => applyProfile({ messages: [] }, profile), "messages");
    refuses(() => applyProfile({ messages: [user, "hi"] }, profile), "messages[1]");
    refuses(() => applyProfile({ messages: [{ role: "robot", content: "x" }] }, profile), "messages[0].role");
    refuses(() => applyProfile({ messages: [user, { role: "user", content: 5 }] }, profile), "messages[1].content");
    refuses(
      () => applyProfile({ messages: [{ role: "user", content: [{ text: "x" }] }] }, profile),
      "messages[0].content[0]",
    );
    refuses(
      () => applyProfile({ messages: [{ role: "user", content: [{ type: "text", text: 1 }] }] }, profile),
      "messages[0].content[0].text",
    );
    refuses(() => applyProfile({ messages: [{ role: "user", content: "x", name: 3 }] }, profile), "messages[0].name");
    refuses(() => applyProfile({ messages: [user], model: 4 }, profile), "model");
    refuses(() => applyProfile({ messages: [user], temperature: "hot" }, profile), "temperature");
    refuses(() => applyProfile({ messages: [user], temperature: 3 }, profile), "temperature");
    refuses(() => applyProfile({ messages: [user], top_p: 1.5 }, profile), "top_p");
    refuses(() => applyProfile({ messages: [user], max_tokens: 0 }, profile), "max_tokens");
    refuses(() => applyProfile({ messages: [user], max_tokens: 2.5 }, profile), "max_tokens");
    refuses(() => applyProfile({ messages: [user], stop: [1] }, profile), "stop");
    refuses(() => applyProfile({ messages: [user], stream: "yes" }, profile), "stream");
    refuses(() => applyProfile({ messages: [user], n: 0 }, profile), "n");
  });

  it("accepts content parts, and an assistant's tool calls without content", () => {
    const parts = {
      role: "user",
      content: [
        { type: "text", text: "look" },
        { type: "image_url", image_url: { url: "data:," } },
      ],
    };
    const call = {
      role: "assistant",
      content: null,
      tool_calls: [{ id: "1", type: "function", function: { name: "f", arguments: "{}" } }],
    };
    const tool = { role: "tool", tool_call_id: "1", content: "42" };
    const out = applyProfile({ messages: [parts, call, tool] }, profile);
    assert.deepEqual((out.body as ChatRequest).messages.slice(1), [parts, call, tool]);
  });

  it("takes a profile of readonly arrays, as the core's state holds them", () => {
    const frozen = {
      name: "frozen",
      model: "gpt-4o",
      params: { stop: Object.freeze(["END"]) },
      bounds: { temperature: Object.freeze([0, 0.5] as const) },
    } satisfies LlmProfile;
    const out = applyProfile({ messages: [user], temperature: 0.9 }, frozen);
    assert.deepEqual([out.body.stop, out.body.temperature, out.clamped], [["END"], 0.5, ["temperature"]]);
  });
});

describe("modelList", () => {
  it("lists each profile a key may use once, by name, sorted", () => {
    const list = modelList([profile, { name: "alpha", model: "llama3" }, profile]);
    assert.deepEqual(list, {
      object: "list",
      data: [
        { id: "alpha", object: "model", created: 0, owned_by: "kindwatch", root: "llama3" },
        { id: "support", object: "model", created: 0, owned_by: "kindwatch", root: "gpt-4o-mini" },
      ],
    });
  });
});
