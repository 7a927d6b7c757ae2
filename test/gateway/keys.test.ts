/**
 * Keys: a route with a key set takes `Authorization: Bearer` (or its configured header), answers 401 without a key or
 * with an unknown one and 403 for a key not allowed on it; a PUT of the key set rotates keys at once; the gateway
 * never sends the key upstream, and never shows its hash.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { errorOf, GatewayProcess, source } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";

const sha = (key: string) => createHash("sha256").update(key).digest("hex");

describe("gateway: keys", () => {
  let gw: GatewayProcess;
  let up: OpenAIUpstream;

  before(async () => {
    [gw, up] = await Promise.all([GatewayProcess.start(), OpenAIUpstream.start("up")]);
    await gw.put("keysets", {
      name: "team",
      source: source("ks"),
      keys: [
        { id: "alice", sha256: sha("sk-alice") },
        { id: "bob", sha256: sha("sk-bob").toUpperCase(), routes: ["open-to-bob"] },
      ],
    });
    for (const name of ["secured", "open-to-bob"]) {
      await gw.put("routes", {
        name,
        source: source(),
        match: { pathPrefix: `/${name}` },
        upstreams: [{ url: up.url }],
        auth: { keySet: "team" },
      });
    }
    await gw.put("routes", {
      name: "custom-header",
      source: source(),
      match: { pathPrefix: "/custom-header" },
      upstreams: [{ url: up.url }],
      auth: { keySet: "team", header: "X-Api-Key" },
    });
  });

  after(async () => {
    await Promise.all([gw?.stop(), up?.stop()]);
  });

  const get = (path: string, key?: string, header = "authorization") =>
    gw.call(
      path,
      key === undefined ? {} : { headers: { [header]: header === "authorization" ? `Bearer ${key}` : key } },
    );

  it("answers 401 without a key and with an unknown one, in OpenAI's format", { timeout: 20_000 }, async () => {
    const missing = await get("/secured/x");
    assert.equal(missing.status, 401);
    assert.equal(errorOf(missing).type, "authentication_error");
    assert.equal(errorOf(missing).code, "missing_api_key");
    const unknown = await get("/secured/x", "sk-mallory");
    assert.equal(unknown.status, 401);
    assert.equal(errorOf(unknown).code, "invalid_api_key");
    assert.equal(up.requests.length, 0);
  });

  it("lets a known key through, without sending it upstream", { timeout: 20_000 }, async () => {
    const answer = await get("/secured/x", "sk-alice");
    assert.equal(answer.status, 200, answer.text);
    assert.equal(up.requests.at(-1)?.headers.authorization, undefined);
    assert.doesNotMatch(JSON.stringify(up.requests.at(-1)?.headers), /sk-alice/);
  });

  it("answers 403 for a key whose routes leave the route out", { timeout: 20_000 }, async () => {
    const denied = await get("/secured/x", "sk-bob");
    assert.equal(denied.status, 403);
    assert.equal(errorOf(denied).type, "permission_error");
    assert.match(errorOf(denied).message, /bob may not use route secured/);
    assert.equal((await get("/open-to-bob/x", "sk-bob")).status, 200);
  });

  it("reads the key from the route's own header when it has one", { timeout: 20_000 }, async () => {
    assert.equal((await get("/custom-header/x", "sk-alice")).status, 401);
    const answer = await get("/custom-header/x", "sk-alice", "x-api-key");
    assert.equal(answer.status, 200, answer.text);
    assert.equal(up.requests.at(-1)?.headers["x-api-key"], undefined);
  });

  it("rotates keys with a PUT of the key set, without a restart", { timeout: 20_000 }, async () => {
    const bootId = (await gw.state()).bootId;
    await gw.put("keysets", {
      name: "team",
      source: source("ks"),
      keys: [{ id: "alice", sha256: sha("sk-alice-2") }],
    });
    assert.equal((await get("/secured/x", "sk-alice")).status, 401);
    assert.equal((await get("/secured/x", "sk-alice-2")).status, 200);
    assert.equal((await get("/open-to-bob/x", "sk-bob")).status, 401);
    assert.equal((await gw.state()).bootId, bootId);
  });

  it("shows key ids, never hashes, in the admin API", { timeout: 20_000 }, async () => {
    const keyset = await gw.admin("GET", "/admin/v1/keysets/team");
    assert.equal(keyset.status, 200);
    assert.deepEqual(keyset.json?.keys, [{ id: "alice" }]);
    const state = JSON.stringify(await gw.state());
    assert.doesNotMatch(state, new RegExp(sha("sk-alice-2")));
    assert.doesNotMatch(keyset.text, /sha256/);
  });
});
