/** The gateway's SSE relay: bytes through untouched and at once, events followed across any split, cuts reported. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { countTokens as o200k } from "gpt-tokenizer/encoding/o200k_base";
import { SseRelay, usageOfJson } from "../../src/gateway/llm/index.js";

const DELTAS = ["Hello", "! Ça", " va", " très", " bien 🎉", ". Und dir?"];

function chunk(fields: Record<string, unknown>): string {
  return JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: "gpt-4o", ...fields });
}

/** A stream as OpenAI sends it with include_usage, plus a keep-alive comment and one event spread over two data lines. */
function recorded({ usage = true, finish = true }: { usage?: boolean; finish?: boolean } = {}): string {
  const events = [
    `data: ${chunk({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] })}\n\n`,
    ": keep-alive\n\n",
    ...DELTAS.map((d) => `data: ${chunk({ choices: [{ index: 0, delta: { content: d }, finish_reason: null }] })}\n\n`),
    `data: {"id":"chatcmpl-1","object":"chat.completion.chunk",\ndata: "choices":[{"index":0,"delta":{},"finish_reason":${finish ? '"stop"' : "null"}}]}\n\n`,
  ];
  if (usage) {
    events.push(
      `data: ${chunk({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 9, total_tokens: 21 } })}\n\n`,
    );
  }
  events.push("data: [DONE]\n\n");
  return events.join("");
}

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The events a conforming client reads from `text` (WHATWG rules), each as its data. */
function clientEvents(text: string): string[] {
  const events: string[] = [];
  let data: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/).slice(0, -1)) {
    if (line === "") {
      if (data.length > 0) events.push(data.join("\n"));
      data = [];
    } else if (line.startsWith("data:")) {
      data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    }
  }
  return events;
}

/** Feeds `parts` through a relay; returns what it wrote, its end, and the events it saw. */
function relay(parts: Uint8Array[], err?: Error) {
  const seen: string[] = [];
  const r = new SseRelay({ model: "gpt-4o", promptTokens: () => 7, onEvent: (d) => seen.push(d) });
  const written = parts.map((p) => r.push(p));
  const end = r.end(err);
  return { written, out: concat([...written, end.tail]), end, seen, content: r.content };
}

const LINE_ENDS: [string, (s: string) => string][] = [
  ["LF", (s) => s],
  ["CRLF", (s) => s.replaceAll("\n", "\r\n")],
  ["CR", (s) => s.replaceAll("\n", "\r")],
];

describe("SseRelay", () => {
  it("writes each chunk as it comes, byte for byte, and takes the upstream's usage once", () => {
    const bytes = enc(recorded());
    const { written, out, end, seen, content } = relay(Array.from(bytes, (b) => Uint8Array.of(b)));
    assert.equal(content, DELTAS.join(""), "the answer a session keeps, multi-byte characters split across chunks");
    assert.ok(
      written.every((w) => w.length === 1),
      "every 1-byte chunk is written at once",
    );
    assert.deepEqual(out, bytes);
    assert.deepEqual(end, {
      tail: new Uint8Array(0),
      usage: { promptTokens: 12, completionTokens: 9, estimated: false },
      cut: false,
    });
    assert.equal(seen.length, DELTAS.length + 4);
    assert.equal(seen.at(-1), "[DONE]");
  });

  for (const [name, ends] of LINE_ENDS) {
    it(`splitting a ${name} stream at any byte gives the same events and usage, and the same bytes out`, () => {
      const bytes = enc(ends(recorded()));
      const whole = relay([bytes]);
      assert.deepEqual(whole.seen, clientEvents(recorded()));
      for (let i = 0; i <= bytes.length; i++) {
        const split = relay([bytes.subarray(0, i), bytes.subarray(i)]);
        assert.deepEqual(split.seen, whole.seen, `split at ${i}`);
        assert.deepEqual(split.end.usage, whole.end.usage, `split at ${i}`);
        assert.equal(split.end.cut, false, `split at ${i}`);
        assert.deepEqual(split.out, bytes, `split at ${i}`);
      }
    });
  }

  it("counts the answer with the tokenizer when the upstream sends no usage, and says it is estimated", () => {
    const bytes = enc(recorded({ usage: false }));
    for (const i of [0, 17, 200, bytes.length - 3]) {
      const { end } = relay([bytes.subarray(0, i), bytes.subarray(i)]);
      assert.deepEqual(end.usage, { promptTokens: 7, completionTokens: o200k(DELTAS.join("")), estimated: true });
      assert.equal(end.cut, false);
    }
  });

  it("counts completion text and tool-call arguments too when no usage comes", () => {
    const text = ["Once", " upon", " a time"]
      .map(
        (t, i) =>
          `data: ${JSON.stringify({ choices: [{ index: 0, text: t, finish_reason: i === 2 ? "stop" : null }] })}\n\n`,
      )
      .join("");
    assert.deepEqual(relay([enc(`${text}data: [DONE]\n\n`)]).end.usage, {
      promptTokens: 7,
      completionTokens: o200k("Once upon a time"),
      estimated: true,
    });
    const call = (args: string, finish: string | null) =>
      `data: ${chunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: args } }] }, finish_reason: finish }] })}\n\n`;
    const tools = call('{"city":', null) + call('"Paris"}', "tool_calls");
    assert.equal(relay([enc(`${tools}data: [DONE]\n\n`)]).end.usage.completionTokens, o200k('{"city":"Paris"}'));
  });

  it("keeps the last usage of a server that reports running totals on every chunk", () => {
    const body = [1, 2, 3]
      .map(
        (n) =>
          `data: ${chunk({ choices: [{ index: 0, delta: { content: "x" }, finish_reason: n === 3 ? "length" : null }], usage: { prompt_tokens: 5, completion_tokens: n } })}\n\n`,
      )
      .join("");
    const { end } = relay([enc(`${body}data: [DONE]\n\n`)]);
    assert.deepEqual(end.usage, { promptTokens: 5, completionTokens: 3, estimated: false });
  });

  it("a stream cut at any byte ends, for the client, with an error event and no [DONE]", () => {
    for (const [name, ends] of LINE_ENDS) {
      const text = ends(recorded());
      const bytes = enc(text);
      // Once "data: [DONE]" is all there the client reads [DONE] whatever follows, and the answer was whole.
      const doneLine = enc(text.slice(0, text.indexOf("data: [DONE]") + "data: [DONE]".length)).length;
      for (let i = 0; i < bytes.length; i++) {
        for (const err of [undefined, new Error("socket hang up")]) {
          const { out, end } = relay([bytes.subarray(0, i)], err);
          const events = clientEvents(dec(out));
          const at = `${name}, cut at ${i}${err ? " with an error" : ""}`;
          assert.deepEqual(out.subarray(0, i), bytes.subarray(0, i), at);
          if (i >= doneLine) {
            assert.equal(end.cut, false, at);
            assert.equal(events.at(-1), "[DONE]", at);
            continue;
          }
          assert.equal(end.cut, true, at);
          assert.ok(!events.includes("[DONE]"), at);
          const last = JSON.parse(events.at(-1) ?? "{}") as { error?: { type: string; code: string } };
          assert.deepEqual([last.error?.type, last.error?.code], ["upstream_error", "stream_cut"], at);
        }
      }
    }
  });

  it("[DONE] without a finish_reason for every choice is a cut", () => {
    const { end } = relay([enc(recorded({ finish: false }))]);
    assert.equal(end.cut, true);
    assert.match(dec(end.tail), /before every choice finished/);
    const twoChoices = [0, 1]
      .map((i) => `data: ${chunk({ choices: [{ index: i, delta: { content: "a" }, finish_reason: null }] })}\n\n`)
      .join("");
    const onlyFirst = `data: ${chunk({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n`;
    assert.equal(relay([enc(`${twoChoices}${onlyFirst}data: [DONE]\n\n`)]).end.cut, true);
  });

  it("an error event from the upstream is a cut the client has already been told of", () => {
    const first = `data: ${chunk({ choices: [{ index: 0, delta: { content: "Hi" }, finish_reason: null }] })}\n\n`;
    const error = 'data: {"error":{"message":"overloaded","type":"server_error","param":null,"code":null}}\n\n';
    const { end, out } = relay([enc(first + error)]);
    assert.equal(end.cut, true);
    assert.equal(end.tail.length, 0);
    assert.equal(dec(out), first + error);
  });

  it("a second end adds nothing and push after end throws", () => {
    const r = new SseRelay({ model: "gpt-4o", promptTokens: () => 1 });
    r.push(enc("data: {"));
    const first = r.end();
    assert.equal(first.cut, true);
    const second = r.end();
    assert.equal(second.tail.length, 0);
    assert.deepEqual(second.usage, first.usage);
    assert.throws(() => r.push(enc("x")), /after end/);
  });
});

describe("usageOfJson", () => {
  const request = { model: "gpt-4o", messages: [{ role: "user", content: "hello world" }] };

  it("takes the upstream's usage", () => {
    const answer = {
      choices: [{ message: { role: "assistant", content: "hi" } }],
      usage: { prompt_tokens: 9, completion_tokens: 1 },
    };
    assert.deepEqual(usageOfJson(answer, request), { promptTokens: 9, completionTokens: 1, estimated: false });
  });

  it("counts prompt and answer when the upstream gives none", () => {
    const answer = { choices: [{ message: { role: "assistant", content: "Ça va très bien 🎉" } }] };
    // 3 priming + 3 per message + "user" (1) + "hello world" (2)
    assert.deepEqual(usageOfJson(answer, request), {
      promptTokens: 9,
      completionTokens: o200k("Ça va très bien 🎉"),
      estimated: true,
    });
    const completion = usageOfJson(
      { choices: [{ text: "hello world" }] },
      { model: "gpt-4o", prompt: ["hello world", "hello"] },
    );
    assert.deepEqual(completion, { promptTokens: 3, completionTokens: 2, estimated: true });
  });
});
