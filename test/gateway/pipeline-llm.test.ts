/**
 * LLM profiles in the gateway process, checked at a real upstream that records what it got: the profile's model, system
 * prompt and parameters arrive, caller values are clamped (and the answer says which), session history is kept and
 * capped, a stream's usage says whether the upstream gave it, a cut stream ends in an SSE error event, task APIs
 * render their templates, and `/v1/models` lists what the key may use.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { errorOf, GatewayProcess, source } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { waitFor } from "../support/wait.js";

const key = "sk-pipeline";
const auth = { authorization: `Bearer ${key}`, "content-type": "application/json" };

describe("gateway: LLM profiles end to end", () => {
  let gw: GatewayProcess;
  let up: OpenAIUpstream;

  before(async () => {
    [gw, up] = await Promise.all([GatewayProcess.start(), OpenAIUpstream.start("up")]);
    await gw.put("keysets", {
      name: "ks",
      source: source("ks"),
      keys: [{ id: "k1", sha256: createHash("sha256").update(key).digest("hex"), routes: ["chat", "code"] }],
    });
    await gw.put("profiles", {
      name: "assistant",
      source: source("assistant"),
      model: "gpt-4o-mini",
      systemPrompt: "You are terse.",
      params: { temperature: 0.3, top_p: 0.9, stop: ["END"] },
      bounds: { temperature: [0, 1], max_tokens: 100 },
      history: { retention: "session", maxTurns: 2 },
    });
    for (const name of ["coder", "hidden"]) {
      await gw.put("profiles", { name, source: source(name), model: `${name}-model` });
    }
    const route = (name: string, prefix: string, profile: string, extra: Record<string, unknown> = {}) => ({
      name,
      source: source(name),
      match: { pathPrefix: prefix },
      upstreams: [{ url: up.url, kind: "openai" }],
      auth: { keySet: "ks" },
      profile,
      ...extra,
    });
    await gw.put(
      "routes",
      route("chat", "/chat", "assistant", {
        tasks: [
          { name: "summarise", template: "Summarise for {{audience}}: {{text}}", variables: ["text", "audience"] },
        ],
      }),
    );
    await gw.put("routes", route("code", "/code", "coder"));
    await gw.put("routes", route("secret", "/secret", "hidden"));
  });

  after(async () => {
    await Promise.all([gw?.stop(), up?.stop()]);
  });

  const chat = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
    gw.call("/chat/v1/chat/completions", {
      method: "POST",
      headers: { ...auth, ...headers },
      body: JSON.stringify(body),
    });
  const last = () => {
    const r = up.requests.at(-1);
    assert.ok(r?.json, "the upstream got a JSON request");
    return r.json;
  };

  it("sends the profile's model, system prompt and defaults; clamps the caller's values and says so", async () => {
    const answer = await chat(
      { model: "gpt-5", messages: [{ role: "user", content: "hi" }], temperature: 1.7 },
      { "accept-encoding": "gzip, br" },
    );
    assert.equal(answer.status, 200, answer.text);
    // The gateway reads the answer (usage, cuts, history), so it asks for it uncompressed.
    assert.equal(up.requests.at(-1)?.headers["accept-encoding"], "identity");
    assert.equal(answer.headers["x-kindwatch-clamped"], "temperature");
    const sent = last();
    assert.equal(sent.model, "gpt-4o-mini");
    assert.deepEqual(sent.messages, [
      { role: "system", content: "You are terse." },
      { role: "user", content: "hi" },
    ]);
    assert.equal(sent.temperature, 1);
    assert.equal(sent.top_p, 0.9);
    assert.deepEqual(sent.stop, ["END"]);
    assert.equal(sent.max_tokens, 100);

    const capped = await chat({ messages: [{ role: "user", content: "hi" }], max_tokens: 5000, temperature: 0.5 });
    assert.equal(capped.headers["x-kindwatch-clamped"], "max_tokens");
    assert.equal(last().max_tokens, 100);
    assert.equal(last().temperature, 0.5);
    const unclamped = await chat({ messages: [{ role: "user", content: "hi" }] });
    assert.equal(unclamped.headers["x-kindwatch-clamped"], undefined);
  });

  it("refuses a bad body with a 400 naming the field, before the upstream", async () => {
    const before = up.requests.length;
    const answer = await chat({ messages: [{ role: "user", content: "hi" }], temperature: "hot" });
    assert.equal(answer.status, 400);
    assert.equal(errorOf(answer).param, "temperature");
    const broken = await gw.call("/chat/v1/chat/completions", { method: "POST", headers: auth, body: "{" });
    assert.equal(broken.status, 400);
    assert.equal(up.requests.length, before);
  });

  it("keeps a session's history, streamed answers included, and caps it at maxTurns", async () => {
    const session = { "x-session-id": `s-${Date.now()}` };
    const say = (content: string, stream = false) =>
      chat({ messages: [{ role: "user", content }], ...(stream ? { stream: true } : {}) }, session);
    const answerText = "Hello w1 up";
    assert.equal((await say("one")).status, 200);
    const streamed = await say("two", true);
    assert.match(streamed.text, /\[DONE\]/);
    assert.equal((await say("three")).status, 200);
    const turn = (content: string) => [
      { role: "user", content },
      { role: "assistant", content: answerText },
    ];
    assert.deepEqual(last().messages, [
      { role: "system", content: "You are terse." },
      ...turn("one"),
      ...turn("two"),
      { role: "user", content: "three" },
    ]);
    assert.equal((await say("four")).status, 200);
    assert.deepEqual(last().messages, [
      { role: "system", content: "You are terse." },
      ...turn("two"),
      ...turn("three"),
      { role: "user", content: "four" },
    ]);
    // Another session, and no session, see none of it.
    await chat({ messages: [{ role: "user", content: "alone" }] });
    assert.equal((last().messages as unknown[]).length, 2);
  });

  it("tells a stream's client its usage, and whether the gateway had to count it", async () => {
    const usageOf = (text: string) => {
      const m = /^: kindwatch-usage (.*)$/m.exec(text);
      assert.ok(m, `no usage comment in ${text}`);
      return JSON.parse(m[1] as string) as { prompt_tokens: number; completion_tokens: number; estimated: boolean };
    };
    const counted = () =>
      gw.cli.stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.route === "chat" && l.tokensOut !== undefined);
    const before = counted().length;
    const reported = await chat({ messages: [{ role: "user", content: "count" }], stream: true });
    assert.equal(last().stream_options && (last().stream_options as { include_usage?: boolean }).include_usage, true);
    const fromUpstream = usageOf(reported.text);
    // The test upstream reports its prompt as the length of the messages' JSON, which no tokenizer would give.
    assert.deepEqual(fromUpstream, {
      prompt_tokens: JSON.stringify(last().messages).length,
      completion_tokens: 3,
      total_tokens: JSON.stringify(last().messages).length + 3,
      estimated: false,
    });
    up.behaviour.usage = false;
    try {
      const estimated = await chat({ messages: [{ role: "user", content: "count" }], stream: true });
      const estimate = usageOf(estimated.text);
      assert.equal(estimate.estimated, true);
      assert.ok(estimate.prompt_tokens > 0 && estimate.prompt_tokens < 40, JSON.stringify(estimate));
      assert.ok(estimate.completion_tokens > 0, JSON.stringify(estimate));
      // The access log line of each request carries the same counts, and says which were estimated.
      // Lines are written as answers end, so an earlier test's may come after `before`: look for each stream's own.
      const wanted = [
        [fromUpstream.prompt_tokens, fromUpstream.completion_tokens, false],
        [estimate.prompt_tokens, estimate.completion_tokens, true],
      ];
      await waitFor("the access log lines of both streams, with their counts", () => {
        const logged = counted()
          .slice(before)
          .map((l) => JSON.stringify([l.tokensIn, l.tokensOut, l.tokensEstimated]));
        return wanted.every((w) => logged.includes(JSON.stringify(w)));
      });
    } finally {
      delete up.behaviour.usage;
    }
  });

  it("tells a JSON answer's client whether its usage is the upstream's, and adds the gateway's count when it gave none", async () => {
    const fromUpstream = await chat({ messages: [{ role: "user", content: "count" }] });
    assert.equal(fromUpstream.status, 200, fromUpstream.text);
    assert.equal(fromUpstream.headers["x-kindwatch-usage"], "upstream");
    const promptLength = JSON.stringify(last().messages).length;
    assert.deepEqual(fromUpstream.json?.usage, {
      prompt_tokens: promptLength,
      completion_tokens: 3,
      total_tokens: promptLength + 3,
    });
    up.behaviour.usage = false;
    try {
      const counted = await chat({ messages: [{ role: "user", content: "count" }] });
      assert.equal(counted.status, 200, counted.text);
      assert.equal(counted.headers["x-kindwatch-usage"], "estimated");
      assert.equal(Number(counted.headers["content-length"]), Buffer.byteLength(counted.text));
      const usage = counted.json?.usage as { prompt_tokens: number; completion_tokens: number; total_tokens: number };
      assert.ok(usage.prompt_tokens > 0 && usage.prompt_tokens < 40, JSON.stringify(usage));
      assert.ok(usage.completion_tokens > 0, JSON.stringify(usage));
      assert.equal(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
      // The rest of the answer is the upstream's.
      assert.equal(counted.json?.id, "cmpl-up");
      const choices = counted.json?.choices as { message: { content: string } }[];
      assert.equal(choices[0]?.message.content, "Hello w1 up");
    } finally {
      delete up.behaviour.usage;
    }
  });

  it("answers 502 when the upstream cuts a JSON answer, which has not reached the client", async () => {
    // An upstream that promises a whole answer and sends half of it.
    const cutting = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": 100 });
      res.write('{"id": "cmpl-half", "choices": [');
      setTimeout(() => res.destroy(), 50);
    });
    await new Promise<void>((resolve) => cutting.listen(0, "127.0.0.1", resolve));
    try {
      const port = (cutting.address() as AddressInfo).port;
      await gw.put("routes", {
        name: "halves",
        source: source("halves"),
        match: { pathPrefix: "/halves" },
        upstreams: [{ url: `http://127.0.0.1:${port}`, kind: "openai" }],
        profile: "assistant",
      });
      const answer = await gw.call("/halves/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
      });
      assert.equal(answer.status, 502, answer.text);
      assert.equal(errorOf(answer).code, "upstream_cut");
    } finally {
      // An open route: /v1/models of the later test would list its profile.
      await gw.admin("DELETE", "/admin/v1/routes/halves");
      cutting.closeAllConnections();
      await new Promise((resolve) => cutting.close(resolve));
    }
  });

  it("ends a stream the upstream cut with an SSE error event, never a clean end", async () => {
    up.fail({ kind: "cut", afterChunks: 1 }, 1);
    const answer = await chat({ messages: [{ role: "user", content: "cut" }], stream: true });
    assert.equal(answer.status, 200);
    assert.match(answer.text, /^data: .*"Hello"/m);
    const events = answer.text.split("\n").filter((l) => l.startsWith("data: "));
    const lastEvent = JSON.parse((events.at(-1) as string).slice(6)) as { error?: { code?: string } };
    assert.equal(lastEvent.error?.code, "stream_cut");
    assert.doesNotMatch(answer.text, /\[DONE\]/);
  });

  it("answers a task with its template rendered; names missing variables; 404 for an unknown task", async () => {
    const task = (name: string, body: unknown) =>
      gw.call(`/chat/v1/tasks/${name}`, {
        method: "POST",
        headers: { ...auth, "x-session-id": "task-session" },
        body: JSON.stringify(body),
      });
    const ok = await task("summarise", { text: "the report", audience: "managers" });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(
      (ok.json?.choices as { message: { content: string } }[] | undefined)?.[0]?.message.content,
      "Hello w1 up",
    );
    const got = up.requests.at(-1);
    assert.equal(got?.path, "/chat/v1/chat/completions");
    assert.deepEqual(got?.json?.messages, [
      { role: "system", content: "You are terse." },
      { role: "user", content: "Summarise for managers: the report" },
    ]);
    const before = up.requests.length;
    const missing = await task("summarise", { text: "x" });
    assert.equal(missing.status, 400);
    assert.match(errorOf(missing).message, /missing variables for task summarise: audience/);
    assert.equal(errorOf(missing).param, "audience");
    // A session header on a task keeps nothing: the next chat of that session starts empty.
    await chat({ messages: [{ role: "user", content: "after" }] }, { "x-session-id": "task-session" });
    assert.equal((last().messages as unknown[]).length, 2);
    const unknown = await task("translate", { text: "x" });
    assert.equal(unknown.status, 404);
    assert.equal(errorOf(unknown).code, "task_not_found");
    assert.equal(up.requests.length, before + 1);
    assert.equal((await task("%E0%A4%A", { text: "x" })).status, 404);
  });

  it("lists in /v1/models the profiles of the routes the key may use", async () => {
    const answer = await gw.call("/chat/v1/models", { headers: auth });
    assert.equal(answer.status, 200, answer.text);
    const ids = (answer.json?.data as { id: string; root: string }[] | undefined)?.map((m) => `${m.id}=${m.root}`);
    assert.deepEqual(ids, ["assistant=gpt-4o-mini", "coder=coder-model"]);
    assert.equal((await gw.call("/chat/v1/models")).status, 401);
  });
});
