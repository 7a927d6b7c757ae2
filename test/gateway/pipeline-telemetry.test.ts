/**
 * What the pipeline reports to telemetry, in process with a recording telemetry: each answer's tokens (the upstream's,
 * or estimated when it gave none, streamed or not), a stream's first token, a cut stream, and refusals by limit.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.js";
import { memoryLimits } from "../../src/gateway/limits/index.js";
import { memorySessions } from "../../src/gateway/llm/index.js";
import type { GatewayTelemetry } from "../../src/gateway/telemetry-types.js";
import { call } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { waitFor } from "../support/wait.js";

type Event = { kind: keyof GatewayTelemetry } & Record<string, unknown>;

function recorder(events: Event[]): GatewayTelemetry {
  const record =
    (kind: keyof GatewayTelemetry) =>
    (e: object): void => {
      events.push({ kind, ...e });
    };
  return {
    request: record("request"),
    tokens: record("tokens"),
    firstToken: record("firstToken"),
    perOutputToken: record("perOutputToken"),
    limited: record("limited"),
    streamCut: record("streamCut"),
  };
}

describe("gateway: telemetry of the pipeline", () => {
  let gw: RunningGateway;
  let up: OpenAIUpstream;
  const events: Event[] = [];
  const limits = memoryLimits();

  before(async () => {
    up = await OpenAIUpstream.start("up");
    gw = await startGateway({
      listen: "127.0.0.1:0",
      adminListen: "127.0.0.1:0",
      adminToken: "t",
      rate: limits.rate,
      budgets: limits.budgets,
      sessions: memorySessions(),
      telemetry: recorder(events),
    });
    const source = { uid: "u", generation: 1 };
    gw.plane.state.put("profiles", { name: "p", source, model: "gpt-4o-mini", tokensPerMinute: 100_000 });
    gw.plane.state.put("profiles", { name: "tiny", source, model: "gpt-4o-mini", tokensPerMinute: 50 });
    const route = (name: string, prefix: string, profile: string) => ({
      name,
      source,
      match: { pathPrefix: prefix },
      upstreams: [{ url: up.url, kind: "openai" as const }],
      profile,
    });
    gw.plane.state.put("routes", { ...route("llm", "/v1", "p"), limit: { requestsPerSecond: 0.001, burst: 40 } });
    gw.plane.state.put("routes", route("tiny", "/tiny", "tiny"));
  });

  after(async () => {
    await gw?.stop();
    await up?.stop();
    await Promise.all([limits.rate.close(), limits.budgets.close()]);
  });

  const ask = (stream: boolean, prefix = "") =>
    call(`${gw.url}${prefix}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], stream, max_tokens: 20 }),
    });
  /** The events of `kind` recorded since `from`, once the answer's finish has run. */
  const since = async (from: number, kind: Event["kind"], count = 1) =>
    waitFor(`${count} ${kind} event(s)`, () => {
      const found = events.slice(from).filter((e) => e.kind === kind);
      return found.length >= count && found;
    });

  it("reports the upstream's usage as such, and an estimate as estimated, streamed or not", async () => {
    for (const stream of [false, true]) {
      let from = events.length;
      assert.equal((await ask(stream)).status, 200);
      const [reported] = await since(from, "tokens");
      assert.equal(reported?.estimated, false, `stream ${stream}`);
      assert.equal(reported?.output, 3);
      assert.equal(reported?.route, "llm");
      assert.equal(reported?.profile, "p");
      up.behaviour.usage = false;
      try {
        from = events.length;
        assert.equal((await ask(stream)).status, 200);
        const [counted] = await since(from, "tokens");
        assert.equal(counted?.estimated, true, `stream ${stream}`);
        assert.ok(Number(counted?.output) > 0);
      } finally {
        delete up.behaviour.usage;
      }
    }
  });

  it("reports a stream's first token, and a cut with its upstream", async () => {
    let from = events.length;
    await ask(true);
    const [first] = await since(from, "firstToken");
    assert.ok(Number(first?.seconds) >= 0 && Number(first?.seconds) < 10);
    assert.equal((await since(from, "perOutputToken")).length, 1);
    from = events.length;
    up.fail({ kind: "cut", afterChunks: 1 }, 1);
    await ask(true);
    const [cut] = await since(from, "streamCut");
    assert.deepEqual(cut, { kind: "streamCut", route: "llm", upstream: up.url });
  });

  it("reports refusals by the request limit and by the token budget", async () => {
    const from = events.length;
    // A full budget admits one request whatever it reserves; the answer's real usage (35) leaves too little for another.
    assert.equal((await ask(false, "/tiny")).status, 200);
    await since(from, "tokens");
    assert.equal((await ask(false, "/tiny")).status, 429);
    assert.deepEqual((await since(from, "limited"))[0], { kind: "limited", route: "tiny", limit: "tokens" });
    let status = 200;
    for (let i = 0; i < 50 && status === 200; i++) status = (await ask(false)).status;
    assert.equal(status, 429);
    const limited = await since(from, "limited", 2);
    assert.deepEqual(limited[1], { kind: "limited", route: "llm", limit: "requests" });
  });
});
