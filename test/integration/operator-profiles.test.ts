/**
 * LLMInvocationProfiles through the operator to a real gateway process and the stand-in model: the system prompt and
 * parameters reach the model, sessions keep their history, prompt templates answer as task APIs, token totals show in
 * the profile's status, a change of the profile takes effect, a profile for a model nobody serves is Degraded until
 * one does, and a deleted profile leaves the gateway before its finalizer is released.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { gatewayFinalizer } from "../../src/operator/names.js";
import type { LLMInvocationProfile } from "../../src/operator/types.js";
import { conditionOf, OperatorPlane } from "../support/operator-plane.js";
import { waitFor } from "../support/wait.js";

const key = "sk-profile-user-42";

describe("operator: LLMInvocationProfile", () => {
  let plane: OperatorPlane;
  const profileSpec = {
    model: "llama-3-8b",
    parameters: { temperature: 0.2, topP: 0.8, maxTokens: 64, stop: ["END"] },
    bounds: { temperature: { min: 0, max: 0.5 }, maxTokens: 128 },
    context: {
      protocol: "chat",
      systemPrompt: "You answer in one line.",
      history: { retention: "session", maxTurns: 5 },
    },
    promptTemplates: [
      { name: "summarise", template: "Summarise for {{audience}}: {{text}}", variables: ["text", "audience"] },
    ],
  };

  before(async () => {
    plane = await OperatorPlane.create("op-prof");
    await plane.secret("keys", { user: key });
    await plane.start();
    await plane.create("bindings", "assistant", {
      target: { url: plane.upstream.url },
      provider: "openai",
      model: "llama-3-8b",
      routes: [{ path: "/assistant" }],
      authentication: { secretRef: { name: "keys" } },
      profileRef: { name: "assistant" },
    });
    await plane.create("profiles", "assistant", profileSpec);
    await Promise.all([plane.ready("profiles", "assistant"), plane.ready("bindings", "assistant")]);
  });

  after(async () => {
    await plane?.close();
  });

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    plane.gateway.call(`/assistant${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify(body),
    });
  const chat = (content: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
    post("/v1/chat/completions", { messages: [{ role: "user", content }], ...extra }, headers);
  const sent = () => {
    const json = plane.upstream.requests.at(-1)?.json;
    assert.ok(json, "the model got a JSON request");
    return json;
  };

  it("sends the profile's model, system prompt and parameters, clamping the caller's", async () => {
    const answer = await chat("hello", {}, { temperature: 0.9 });
    assert.equal(answer.status, 200, answer.text);
    const got = sent();
    assert.equal(got.model, "llama-3-8b");
    assert.deepEqual(got.messages, [
      { role: "system", content: "You answer in one line." },
      { role: "user", content: "hello" },
    ]);
    assert.equal(got.temperature, 0.5);
    assert.equal(got.top_p, 0.8);
    assert.equal(got.max_tokens, 64);
    assert.deepEqual(got.stop, ["END"]);
    const profile = (await plane.kind("profiles").get("assistant")) as LLMInvocationProfile;
    assert.equal(profile.status?.gatewayProfile, `llmp.${plane.namespace}.assistant`);
  });

  it("keeps a session's history", async () => {
    const session = { "x-session-id": "s-1" };
    assert.equal((await chat("first", session)).status, 200);
    assert.equal((await chat("second", session)).status, 200);
    assert.deepEqual(sent().messages, [
      { role: "system", content: "You answer in one line." },
      { role: "user", content: "first" },
      { role: "assistant", content: "Hello w1 model" },
      { role: "user", content: "second" },
    ]);
  });

  it("answers the prompt templates as task APIs", async () => {
    const answer = await post("/v1/tasks/summarise", { text: "the report", audience: "managers" });
    assert.equal(answer.status, 200, answer.text);
    assert.deepEqual(sent().messages, [
      { role: "system", content: "You answer in one line." },
      { role: "user", content: "Summarise for managers: the report" },
    ]);
  });

  it("reports token totals in status, in all and by key", async () => {
    assert.equal((await chat("count me")).status, 200);
    const state = await plane.state();
    const name = `llmp.${plane.namespace}.assistant`;
    const counted = await waitFor("the gateway to count tokens", async () => {
      const usage = (await plane.state()).usage?.profiles.find((p) => p.name === name);
      return usage && usage.outputTokens > 0 ? usage : undefined;
    });
    const profile = (await waitFor("the token totals in status", async () => {
      const p = (await plane.kind("profiles").get("assistant")) as LLMInvocationProfile;
      return p.status?.usage?.outputTokens === counted.outputTokens ? p : undefined;
    })) as LLMInvocationProfile;
    assert.equal(profile.status?.usage?.inputTokens, counted.inputTokens);
    assert.equal(profile.status?.usage?.gatewayBootId, state.bootId);
    assert.deepEqual(profile.status?.usage?.byKey, [
      { keyId: "user", inputTokens: counted.inputTokens, outputTokens: counted.outputTokens },
    ]);
  });

  it("applies a changed system prompt and template to the profile and the routes using it", async () => {
    await plane.kind("profiles").patch(
      "assistant",
      {
        spec: {
          context: { ...profileSpec.context, systemPrompt: "You answer in French." },
          promptTemplates: [{ name: "translate", template: "Translate: {{text}}", variables: ["text"] }],
        },
      },
      "merge",
    );
    await plane.ready("profiles", "assistant");
    await waitFor("the new system prompt to reach the model", async () => {
      if ((await chat("bonjour")).status !== 200) return false;
      return (sent().messages as { content: string }[])[0]?.content === "You answer in French.";
    });
    // The binding's generation did not move: its route took the profile's templates all the same.
    await waitFor("the new task", async () => (await post("/v1/tasks/translate", { text: "cat" })).status === 200);
    assert.equal((await post("/v1/tasks/summarise", { text: "x", audience: "y" })).status, 404);
  });

  it("is Degraded with an Event while no binding or deployment serves its model, Ready once one does", async () => {
    await plane.create("profiles", "orphan", { model: "mistral-7b" });
    const degraded = await plane.degraded("profiles", "orphan", "UnknownModel");
    assert.equal(conditionOf(degraded, "Ready")?.status, "False");
    await waitFor("a Warning Event UnknownModel", async () =>
      (await plane.events("orphan")).some((e) => e.type === "Warning" && e.reason === "UnknownModel"),
    );
    assert.equal(
      (await plane.state()).profiles.find((p) => p.name === `llmp.${plane.namespace}.orphan`),
      undefined,
    );
    await plane.create("bindings", "mistral", {
      target: { url: plane.upstream.url },
      provider: "openai",
      model: "mistral-7b",
      routes: [{ path: "/mistral" }],
      profileRef: { name: "orphan" },
    });
    await plane.ready("profiles", "orphan");
    await plane.ready("bindings", "mistral");
    const answer = await plane.gateway.call("/mistral/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(sent().model, "mistral-7b");
  });

  it("is Degraded as ProfileNotFound on a binding whose profile is missing, until it exists", async () => {
    await plane.create("bindings", "waiting", {
      target: { url: plane.upstream.url },
      provider: "openai",
      model: "llama-3-8b",
      routes: [{ path: "/waiting" }],
      profileRef: { name: "later" },
    });
    await plane.degraded("bindings", "waiting", "ProfileNotFound");
    await waitFor("a Warning Event ProfileNotFound", async () =>
      (await plane.events("waiting")).some((e) => e.type === "Warning" && e.reason === "ProfileNotFound"),
    );
    await plane.create("profiles", "later", { model: "llama-3-8b" });
    await plane.ready("bindings", "waiting");
  });

  it("removes a deleted profile from the gateway before its finalizer is released", async () => {
    await plane.create("profiles", "short-lived", { model: "llama-3-8b" });
    await plane.ready("profiles", "short-lived");
    const name = `llmp.${plane.namespace}.short-lived`;
    assert.ok((await plane.state()).profiles.some((p) => p.name === name));
    const profiles = plane.kind("profiles");
    // A second finalizer keeps the object once the operator released its own, to look at the gateway then.
    const hold = "test.kindwatch.dev/hold";
    await profiles.patch("short-lived", [{ op: "add", path: "/metadata/finalizers/-", value: hold }], "json");
    await profiles.delete("short-lived");
    const released = await waitFor("the operator to release its finalizer", async () => {
      const obj = await profiles.get("short-lived");
      return obj.metadata.deletionTimestamp && !obj.metadata.finalizers?.includes(gatewayFinalizer) ? obj : undefined;
    });
    assert.equal(
      (await plane.state()).profiles.find((p) => p.name === name),
      undefined,
      "the gateway profile outlived the operator's finalizer",
    );
    await profiles.patch(
      "short-lived",
      { metadata: { finalizers: [], resourceVersion: released.metadata.resourceVersion } },
      "merge",
    );
    await waitFor("the profile to be gone", () =>
      profiles.get("short-lived").then(
        () => false,
        () => true,
      ),
    );
  });

  it("applies the profiles again when the gateway restarted", async () => {
    const ours = (s: { profiles: { name: string }[] }) =>
      s.profiles
        .map((p) => p.name)
        .filter((n) => n.startsWith(`llmp.${plane.namespace}.`))
        .sort();
    const before = ours(await plane.state());
    plane.gateway = await plane.gateway.restart();
    await waitFor(
      "every profile back",
      async () => JSON.stringify(ours(await plane.state())) === JSON.stringify(before),
    );
    assert.equal((await chat("again")).status, 200);
    assert.equal((sent().messages as { content: string }[])[0]?.content, "You answer in French.");
  });

  it("never shows a key in logs, Events or status", async () => {
    const everything = JSON.stringify([
      plane.logs,
      (await plane.kind("profiles").list()).items,
      (await plane.kind("bindings").list()).items,
      await plane.cluster.client
        .resource({ group: "events.k8s.io", version: "v1", resource: "events" })
        .namespace(plane.namespace)
        .list(),
    ]);
    assert.equal(everything.includes(key), false);
    assert.equal(everything.includes(Buffer.from(key).toString("base64")), false);
  });
});
