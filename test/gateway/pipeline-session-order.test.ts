/**
 * A session's turn is kept before its answer reaches the client whole: a client that sends its next turn the moment the
 * answer ends (to this replica or another) finds it in the history. In process, with a session store whose append
 * waits until the test lets it go.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.js";
import { type ChatMessage, memorySessions, type SessionStore } from "../../src/gateway/llm/index.js";
import { call } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { waitFor } from "../support/wait.js";

/** A memory store whose appends wait for `release()`. */
function gatedStore(): { store: SessionStore; pending: () => number; release: () => void } {
  const inner = memorySessions();
  const waiting: (() => void)[] = [];
  return {
    store: {
      get: (profile, session) => inner.get(profile, session),
      append: async (profile, session, turn: ChatMessage[], spec) => {
        await new Promise<void>((resolve) => waiting.push(resolve));
        await inner.append(profile, session, turn, spec);
      },
      close: () => inner.close(),
    },
    pending: () => waiting.length,
    release: () => {
      for (const go of waiting.splice(0)) go();
    },
  };
}

describe("gateway: a session's turn is kept before its answer ends", () => {
  let gw: RunningGateway;
  let up: OpenAIUpstream;
  const gate = gatedStore();

  before(async () => {
    up = await OpenAIUpstream.start("up");
    gw = await startGateway({
      listen: "127.0.0.1:0",
      adminListen: "127.0.0.1:0",
      adminToken: "t",
      sessions: gate.store,
    });
    const source = { uid: "u", generation: 1 };
    gw.plane.state.put("profiles", {
      name: "p",
      source,
      model: "gpt-4o-mini",
      history: { retention: "session" },
    });
    gw.plane.state.put("routes", {
      name: "llm",
      source,
      match: { pathPrefix: "/v1" },
      upstreams: [{ url: up.url, kind: "openai" as const }],
      profile: "p",
    });
  });

  after(async () => {
    await gw?.stop();
    await up?.stop();
  });

  for (const stream of [false, true]) {
    it(`${stream ? "streamed" : "whole"}: the answer ends only after the append`, async () => {
      let ended = false;
      const answer = call(`${gw.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-session-id": `order-${stream}` },
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], stream }),
      }).then((a) => {
        ended = true;
        return a;
      });
      await waitFor("the turn's append to start", () => gate.pending() === 1);
      // The upstream has answered in full and the append is waiting: the client must not have the whole answer yet.
      await waitFor("the upstream to have answered", () => up.requests.length > 0);
      assert.equal(ended, false, "the client got the whole answer before its turn was kept");
      gate.release();
      const done = await answer;
      assert.equal(done.status, 200);
      if (stream) assert.match(done.text, /data: \[DONE\]/);
      assert.deepEqual(
        (await gate.store.get("p", `order-${stream}`)).map((m) => m.role),
        ["user", "assistant"],
      );
    });
  }
});
