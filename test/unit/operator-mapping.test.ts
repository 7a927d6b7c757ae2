/** The operator's mapping to gateway objects: Durations, limits, route and profile names, the profile's fields. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { validateSpec } from "../../src/gateway/state.js";
import { bindingOfRoute, bindingRouteName, limitSpec, parseDuration } from "../../src/operator/binding.js";
import { profileOfGatewayName, profileSpec } from "../../src/operator/profile.js";
import type { LLMInvocationProfile } from "../../src/operator/types.js";

describe("operator mapping", () => {
  it("parses Gateway API Durations and refuses anything else", () => {
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("2s"), 2000);
    assert.equal(parseDuration("1m30s"), 90_000);
    assert.equal(parseDuration("1h"), 3_600_000);
    for (const bad of ["", "2", "1.5s", "-1s", "1d", "s", "1s1s1s1s1s"])
      assert.equal(parseDuration(bad), undefined, bad);
  });

  it("defaults a limit's burst to its rate rounded up, at least 1", () => {
    assert.deepEqual(limitSpec({ requestsPerSecond: 2.5 }), { requestsPerSecond: 2.5, burst: 3 });
    assert.deepEqual(limitSpec({ requestsPerSecond: 0.1 }), { requestsPerSecond: 0.1, burst: 1 });
    assert.deepEqual(limitSpec({ requestsPerSecond: 5, burst: 20 }), { requestsPerSecond: 5, burst: 20 });
  });

  it("names a binding's routes and finds the binding from them, dots in names included", () => {
    assert.equal(bindingRouteName("ns", "chat.v2", 3), "amb.ns.chat.v2.3");
    assert.deepEqual(bindingOfRoute("amb.ns.chat.v2.3"), { namespace: "ns", name: "chat.v2" });
    assert.equal(bindingOfRoute("amd.ns.model"), undefined);
    assert.equal(bindingOfRoute("amb.ns.noindex"), undefined);
    assert.deepEqual(profileOfGatewayName("llmp.ns.a.b"), { namespace: "ns", name: "a.b" });
    assert.equal(profileOfGatewayName("amb.ns.a.0"), undefined);
  });

  it("maps a profile's fields to the gateway's, and the gateway takes the result", () => {
    const profile: LLMInvocationProfile = {
      apiVersion: "ai.kindwatch.dev/v1alpha1",
      kind: "LLMInvocationProfile",
      metadata: { name: "p", namespace: "ns", uid: "u", generation: 4 },
      spec: {
        model: "m",
        parameters: { temperature: 0.2, topP: 0.9, maxTokens: 10, stop: ["X"] },
        bounds: { temperature: { min: 0, max: 1 }, topP: { min: 0.5, max: 1 }, maxTokens: 100 },
        context: {
          protocol: "chat",
          systemPrompt: "S",
          history: { retention: "session", ttlSeconds: 60, maxTurns: 3 },
        },
        tokenBudget: { tokensPerMinute: 1000 },
      },
    };
    const spec = profileSpec(profile);
    assert.deepEqual(spec, {
      name: "llmp.ns.p",
      source: { uid: "u", generation: 4 },
      model: "m",
      params: { temperature: 0.2, top_p: 0.9, max_tokens: 10, stop: ["X"] },
      bounds: { temperature: [0, 1], top_p: [0.5, 1], max_tokens: 100 },
      protocol: "chat",
      systemPrompt: "S",
      history: { retention: "session", ttlSeconds: 60, maxTurns: 3 },
      tokensPerMinute: 1000,
    });
    assert.deepEqual(validateSpec("profiles", spec.name, spec), spec);
    // As the API server defaults it: `context: {}` becomes `{protocol: chat}`.
    const bare = profileSpec({ ...profile, spec: { model: "m", context: { protocol: "chat" } } });
    assert.deepEqual(bare, { name: "llmp.ns.p", source: { uid: "u", generation: 4 }, model: "m", protocol: "chat" });
  });
});
