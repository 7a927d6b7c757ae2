/**
 * Streams pass through chunk by chunk: the client reads the first SSE chunk while the upstream still holds the rest.
 * A client that goes away aborts the upstream request, before the answer's head and during its body.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { GatewayProcess, source } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { waitFor } from "../support/wait.js";

const streamBody = JSON.stringify({ model: "m", stream: true, messages: [{ role: "user", content: "hi" }] });

describe("gateway: streaming", () => {
  let gw: GatewayProcess;
  let up: OpenAIUpstream;

  before(async () => {
    [gw, up] = await Promise.all([GatewayProcess.start(), OpenAIUpstream.start("up")]);
    await gw.put("routes", {
      name: "llm",
      source: source(),
      match: { pathPrefix: "/v1" },
      upstreams: [{ url: up.url, kind: "openai" }],
    });
  });

  after(async () => {
    await Promise.all([gw?.stop(), up?.stop()]);
  });

  const open = (signal?: AbortSignal) =>
    request(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      body: streamBody,
      headers: { "content-type": "application/json" },
      ...(signal ? { signal } : {}),
    });

  it("passes each SSE chunk on as it comes, before the upstream has finished", { timeout: 20_000 }, async () => {
    const release = up.holdAfterFirstChunk();
    const answer = await open();
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.headers["content-type"], "text/event-stream");
    const reader = answer.body[Symbol.asyncIterator]();
    const first = await reader.next();
    assert.match(String(first.value), /^data: .*"content":"Hello"/);
    const request = up.to("/v1/chat/completions").at(-1);
    assert.equal(request?.finished, false, "the upstream had already finished");
    release();
    let rest = "";
    for (let r = await reader.next(); !r.done; r = await reader.next()) rest += String(r.value);
    assert.match(rest, /" up"/);
    assert.match(rest, /data: \[DONE\]\n\n$/);
    assert.equal(request?.finished, true);
  });

  it("aborts the upstream request when the client goes away during the body", { timeout: 20_000 }, async () => {
    const release = up.holdAfterFirstChunk();
    try {
      const abort = new AbortController();
      const answer = await open(abort.signal);
      const reader = answer.body[Symbol.asyncIterator]();
      await reader.next();
      const request = up.to("/v1/chat/completions").at(-1);
      abort.abort();
      await waitFor("the upstream to see the abort", () => request?.aborted === true, { timeoutMs: 5000 });
      assert.equal(request?.finished, false);
    } finally {
      release();
    }
  });

  it("aborts the upstream request when the client goes away before the answer's head", {
    timeout: 20_000,
  }, async () => {
    up.fail({ kind: "hang" }, 1);
    const before = up.requests.length;
    const abort = new AbortController();
    const pending = open(abort.signal).catch((err: Error) => err);
    const request = await waitFor("the upstream to get the request", () => up.requests[before]);
    abort.abort();
    assert.ok((await pending) instanceof Error);
    await waitFor("the upstream to see the abort", () => request.aborted === true, { timeoutMs: 5000 });
  });
});
