/** Token counts against values known from OpenAI's tokenizers and cookbook. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countChatTokens, countTokens, loadTokenizers } from "../../src/gateway/llm/index.js";

describe("countTokens", () => {
  it("loads both encodings ahead of the first count when asked", () => {
    loadTokenizers();
    assert.equal(countTokens("hello world", "gpt-3.5-turbo"), 2);
  });

  it("counts with o200k_base for the gpt-4o family and unknown models, cl100k_base for gpt-4 and gpt-3.5", () => {
    // o200k: "hello world" = [24912, 2375]; cl100k: [15339, 1917]. On "こんにちは世界" o200k needs 2, cl100k 4.
    const sentence = "こんにちは世界";
    assert.equal(countTokens("hello world", "gpt-4o"), 2);
    assert.equal(countTokens("hello world", "gpt-4"), 2);
    assert.equal(countTokens("", "gpt-4o"), 0);
    const o200k = 2;
    const cl100k = 4;
    for (const m of ["gpt-4o-mini", "gpt-4.1", "o3-mini", "gpt-5", "meta-llama/Llama-3.1-8B", "openai/gpt-4o"]) {
      assert.equal(countTokens(sentence, m), o200k, m);
    }
    for (const m of ["gpt-4-0613", "gpt-4-turbo", "gpt-3.5-turbo", "text-embedding-3-small", "openai/gpt-4"]) {
      assert.equal(countTokens(sentence, m), cl100k, m);
    }
  });

  it("counts chat messages as OpenAI's cookbook does: 129 tokens for gpt-4, 124 for gpt-4o on its example", () => {
    const messages = [
      {
        role: "system",
        content: "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
      },
      { role: "system", name: "example_user", content: "New synergies will help drive top-line growth." },
      { role: "system", name: "example_assistant", content: "Things working well together will increase revenue." },
      {
        role: "system",
        name: "example_user",
        content: "Let's circle back when we have more time to touch base on opportunities for increased leverage.",
      },
      {
        role: "system",
        name: "example_assistant",
        content: "Let's talk later when we're less busy about how to do better.",
      },
      {
        role: "user",
        content: "This late pivot means we don't have time to boil the ocean for the client deliverable.",
      },
    ];
    assert.equal(countChatTokens(messages, "gpt-4-0613"), 129);
    assert.equal(countChatTokens(messages, "gpt-4o"), 124);
    // Text parts count as their text; an image part is not counted.
    const parts = [{ role: "user", content: [{ type: "text", text: "hello world" }, { type: "image_url" }] }];
    assert.equal(
      countChatTokens(parts, "gpt-4o"),
      countChatTokens([{ role: "user", content: "hello world" }], "gpt-4o"),
    );
  });
});
