/**
 * The admin API: token-protected, declarative and idempotent (a replayed PUT changes nothing, the same generation with
 * other content is applied, an older generation is refused with 409), validating what it gets (the 400 names each bad field), reporting per-route errors, and a boot id
 * that changes on restart, after which the state is empty. HttpGatewayDriver drives it.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type GatewayDriverError, HttpGatewayDriver } from "../../src/gateway/driver.js";
import { errorOf, GatewayProcess, source } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { parsePrometheusText } from "../support/prometheus.js";
import { waitFor } from "../support/wait.js";

const sha = (key: string) => createHash("sha256").update(key).digest("hex");

describe("gateway: admin API", () => {
  let gw: GatewayProcess;
  let up: OpenAIUpstream;
  let upOther: OpenAIUpstream;

  before(async () => {
    [gw, up, upOther] = await Promise.all([
      GatewayProcess.start(),
      OpenAIUpstream.start("up"),
      OpenAIUpstream.start("other"),
    ]);
  });

  after(async () => {
    await Promise.all([gw?.stop(), up?.stop(), upOther?.stop()]);
  });

  const routeSpec = (name: string, uid: string, generation: number, url = up.url) => ({
    name,
    source: { uid, generation },
    match: { pathPrefix: `/${name}` },
    upstreams: [{ url, kind: "http" as const }],
  });

  it("answers 401 without the token or with a wrong one, and carries the boot id on every answer", {
    timeout: 20_000,
  }, async () => {
    for (const token of [null, "wrong", `${gw.token}x`]) {
      const answer = await gw.admin("GET", "/admin/v1/state", undefined, token);
      assert.equal(answer.status, 401, `token ${token}`);
      assert.equal(answer.headers["x-kindwatch-gateway-boot-id"], gw.bootId);
    }
    const ok = await gw.admin("GET", "/admin/v1/state");
    assert.equal(ok.status, 200);
    assert.equal(ok.json?.bootId, gw.bootId);
  });

  it("applies a PUT once, takes a replay as unchanged, new content of the same generation as applied, and refuses an older generation with 409", {
    timeout: 20_000,
  }, async () => {
    const first = await gw.admin("PUT", "/admin/v1/routes/idem", routeSpec("idem", "u1", 3));
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json?.outcome, "applied");
    assert.equal((await gw.call("/idem/x")).json?.upstream, "up");
    const replay = await gw.admin("PUT", "/admin/v1/routes/idem", routeSpec("idem", "u1", 3));
    assert.equal(replay.json?.outcome, "unchanged");
    // The same generation with other content is applied: what the source depends on changed (a Service's port).
    const other = await gw.admin("PUT", "/admin/v1/routes/idem", routeSpec("idem", "u1", 3, upOther.url));
    assert.equal(other.status, 200, other.text);
    assert.equal(other.json?.outcome, "applied");
    assert.equal((await gw.call("/idem/x")).json?.upstream, "other");
    const moved = (await gw.admin("GET", "/admin/v1/routes/idem")).json as { upstreams: { url: string }[] };
    assert.equal(moved.upstreams[0]?.url, upOther.url);
    const older = await gw.admin("PUT", "/admin/v1/routes/idem", routeSpec("idem", "u1", 2));
    assert.equal(older.status, 409);
    assert.match(String(older.json?.error), /generation 2 is older than the live 3/);
    // A new uid is a new object (deleted and created again): its generation starts over.
    const recreated = await gw.admin("PUT", "/admin/v1/routes/idem", routeSpec("idem", "u2", 1));
    assert.equal(recreated.json?.outcome, "applied");
    const live = await gw.admin("GET", "/admin/v1/routes/idem");
    assert.deepEqual(live.json?.source, { uid: "u2", generation: 1 });
  });

  it("names every bad field in a 400", { timeout: 20_000 }, async () => {
    const answer = await gw.admin("PUT", "/admin/v1/routes/bad", {
      name: "bad",
      source: { uid: "u", generation: -1 },
      match: { pathPrefix: "api", methods: ["get"] },
      upstreams: [{ url: up.url }, { url: "ftp://x" }, { url: up.url, kind: "grpc" }],
      timeouts: { firstByteMs: "soon" },
      colour: "blue",
    });
    assert.equal(answer.status, 400);
    assert.deepEqual(answer.json?.details, [
      "colour: unknown field",
      "source.generation: must be at least 0",
      'match.pathPrefix: must start with "/"',
      "match.methods[0]: not a method",
      "upstreams[1].url: not an http(s) URL",
      'upstreams[2].kind: must be "openai" or "http"',
      "timeouts.firstByteMs: must be a number",
    ]);
    const keyset = await gw.admin("PUT", "/admin/v1/keysets/ks", {
      source: { uid: "u", generation: 1 },
      keys: [{ id: "k", sha256: "sk-plain-key" }],
    });
    assert.equal(keyset.status, 400);
    assert.deepEqual(keyset.json?.details, ["keys[0].sha256: not a hex sha256"]);
    const renamed = await gw.admin("PUT", "/admin/v1/profiles/p", {
      name: "q",
      source: { uid: "u", generation: 1 },
      model: "m",
    });
    assert.deepEqual(renamed.json?.details, ['name: "q" is not the path\'s name']);
    assert.equal((await gw.admin("GET", "/admin/v1/routes/bad")).status, 404);
  });

  it("answers malformed JSON with 400 and an oversized body with 413", { timeout: 20_000 }, async () => {
    const malformed = await gw.admin("PUT", "/admin/v1/routes/x", '{"name": "x",');
    assert.equal(malformed.status, 400);
    assert.match(String(malformed.json?.error), /not JSON/);
    const huge = await gw.admin("PUT", "/admin/v1/routes/x", `"${"x".repeat(2 * 1024 * 1024)}"`);
    assert.equal(huge.status, 413);
    assert.equal((await gw.admin("GET", "/admin/v1/nothings/x")).status, 404);
  });

  it("keeps a route naming a missing key set or profile live, answering 503 and reporting why", {
    timeout: 20_000,
  }, async () => {
    await gw.put("routes", {
      ...routeSpec("dangling", "ud", 1),
      auth: { keySet: "later" },
      profile: "absent",
    });
    const answer = await gw.call("/dangling/v1/chat/completions");
    assert.equal(answer.status, 503);
    assert.equal(errorOf(answer).code, "route_misconfigured");
    assert.match(errorOf(answer).message, /key set "later" does not exist; profile "absent" does not exist/);
    const routes = (await gw.state()).routes as { name: string; errors: string[] }[];
    assert.deepEqual(routes.find((r) => r.name === "dangling")?.errors, [
      'key set "later" does not exist',
      'profile "absent" does not exist',
    ]);
    await gw.put("keysets", { name: "later", source: source(), keys: [] });
    await gw.put("profiles", { name: "absent", source: source(), model: "m" });
    const fixed = (await gw.state()).routes as { name: string; errors: string[] }[];
    assert.deepEqual(fixed.find((r) => r.name === "dangling")?.errors, []);
    assert.equal((await gw.call("/dangling/x")).status, 401);
  });

  it("deletes, and answers 404 for what is not live", { timeout: 20_000 }, async () => {
    await gw.put("routes", routeSpec("gone", "ug", 1));
    assert.equal((await gw.admin("DELETE", "/admin/v1/routes/gone")).status, 200);
    assert.equal((await gw.admin("DELETE", "/admin/v1/routes/gone")).status, 404);
    assert.equal((await gw.admin("GET", "/admin/v1/routes/gone")).status, 404);
    assert.equal((await gw.call("/gone/x")).status, 404);
  });

  it("reports the LLM tokens used since the boot by profile and key, as the token metrics count them", {
    timeout: 20_000,
  }, async () => {
    const keys = { alice: "sk-usage-alice", bob: "sk-usage-bob" };
    await gw.put("keysets", {
      name: "usage-keys",
      source: source(),
      keys: Object.entries(keys).map(([id, key]) => ({ id, sha256: sha(key) })),
    });
    await gw.put("profiles", { name: "counted", source: source(), model: "m", systemPrompt: "Be brief." });
    await gw.put("profiles", { name: "idle", source: source(), model: "m" });
    await gw.put("routes", {
      ...routeSpec("usage", "uu", 1),
      upstreams: [{ url: up.url, kind: "openai" }],
      auth: { keySet: "usage-keys" },
      profile: "counted",
    });
    const ask = (key: string, stream: boolean) =>
      gw.call("/usage/v1/chat/completions", {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "how many tokens?" }], stream }),
      });
    // The figures each client was told: a JSON answer's usage (the upstream's), a stream's closing usage comment (the
    // gateway's own count: this upstream sends none).
    const plain = await ask(keys.alice, false);
    assert.equal(plain.status, 200, plain.text);
    const told = plain.json?.usage as { prompt_tokens: number; completion_tokens: number };
    up.behaviour.usage = false;
    let streamed: { prompt_tokens: number; completion_tokens: number; estimated: boolean };
    try {
      const answer = await ask(keys.bob, true);
      assert.equal(answer.status, 200, answer.text);
      streamed = JSON.parse(/^: kindwatch-usage (.*)$/m.exec(answer.text)?.[1] ?? "null");
    } finally {
      delete up.behaviour.usage;
    }
    assert.equal(streamed.estimated, true);
    const expected = [
      {
        name: "counted",
        inputTokens: told.prompt_tokens + streamed.prompt_tokens,
        outputTokens: told.completion_tokens + streamed.completion_tokens,
        byKey: [
          {
            keySet: "usage-keys",
            keyId: "alice",
            inputTokens: told.prompt_tokens,
            outputTokens: told.completion_tokens,
          },
          {
            keySet: "usage-keys",
            keyId: "bob",
            inputTokens: streamed.prompt_tokens,
            outputTokens: streamed.completion_tokens,
          },
        ],
      },
      { name: "idle", inputTokens: 0, outputTokens: 0, byKey: [] },
    ];
    // The totals are counted once an answer has ended, which its client may see a moment before.
    const driver = new HttpGatewayDriver({ url: gw.adminUrl, token: gw.token });
    const mine = async () =>
      (await driver.state()).usage.profiles.filter((p) => p.name === "counted" || p.name === "idle");
    const usage = await waitFor("the usage of both answers", async () => {
      const profiles = await mine();
      return profiles[0]?.byKey.length === 2 && profiles;
    });
    assert.deepEqual(usage, expected);
    const metrics = parsePrometheusText((await gw.call("/metrics")).text);
    for (const key of usage[0]?.byKey ?? []) {
      for (const [type, tokens] of [
        ["input", key.inputTokens],
        ["output", key.outputTokens],
      ] as const) {
        const labels = { profile: "counted", key_id: key.keyId, gen_ai_token_type: type };
        assert.equal(metrics.sum("gen_ai_client_token_usage_sum", labels), tokens, `${key.keyId} ${type}`);
      }
    }
  });

  it("is driven by HttpGatewayDriver, which sees the boot id change on a restart, after which the state is empty", {
    timeout: 20_000,
  }, async () => {
    const driver = new HttpGatewayDriver({ url: gw.adminUrl, token: gw.token });
    assert.equal(await driver.applyRoute(routeSpec("driven", "ux", 1)), "applied");
    assert.equal(await driver.applyRoute(routeSpec("driven", "ux", 1)), "unchanged");
    assert.equal(await driver.applyRoute(routeSpec("driven", "ux", 1, upOther.url)), "applied");
    assert.equal(driver.bootId, gw.bootId);
    await assert.rejects(
      driver.applyRoute(routeSpec("driven", "ux", 0)),
      (err: GatewayDriverError) => err.status === 409,
    );
    await assert.rejects(
      driver.applyKeySet({ name: "k", source: { uid: "k", generation: 1 }, keys: [{ id: "a", sha256: "nope" }] }),
      /keys\[0\]\.sha256: not a hex sha256/,
    );
    assert.ok((await driver.state()).routes.some((r) => r.name === "driven"));
    assert.equal(await driver.deleteRoute("driven"), true);
    assert.equal(await driver.deleteRoute("driven"), false);
    await driver.applyRoute(routeSpec("driven", "ux", 2));

    const oldBoot = gw.bootId;
    gw = await gw.restart();
    const state = await driver.state();
    assert.notEqual(state.bootId, oldBoot);
    assert.equal(driver.bootId, state.bootId);
    assert.deepEqual([state.routes, state.keysets, state.profiles, state.usage], [[], [], [], { profiles: [] }]);
    assert.equal((await gw.call("/driven/x")).status, 404);
  });
});
