/**
 * AIModelBindings through the operator to a real gateway process and the stand-in model: routes live before Ready,
 * API keys (401), rate limits (429) and their changes with no poll on the path, Secret rotation without a restart,
 * removed credentials refused at once, deletion behind the finalizer, a gateway restart restoring every route,
 * Degraded dependencies with Events, and no key in logs, Events or status.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { KubeObject } from "../../src/object/types.js";
import { gatewayFinalizer } from "../../src/operator/names.js";
import type { AIModelBinding } from "../../src/operator/types.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { conditionOf, OperatorPlane, secretsGvr } from "../support/operator-plane.js";
import { waitFor } from "../support/wait.js";

const alice = "sk-alice-0123456789abcdef";
const bob = "sk-bob-fedcba9876543210";
const rotated = "sk-alice-rotated-77777777";
const rotatedAgain = "sk-alice-rotated-88888888";

describe("operator: AIModelBinding", () => {
  let plane: OperatorPlane;

  before(async () => {
    plane = await OperatorPlane.create("op-bind");
    await plane.secret("keys", { alice, bob });
    await plane.start();
  });

  after(async () => {
    await plane?.close();
  });

  const chat = (path: string, key?: string) =>
    plane.gateway.call(`${path}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] }),
    });
  const binding = (path: string, extra: Record<string, unknown> = {}) => ({
    target: { url: plane.upstream.url },
    provider: "openai",
    routes: [{ path }],
    authentication: { secretRef: { name: "keys" } },
    ...extra,
  });
  const liveRoute = async (name: string) => (await plane.state()).routes.find((r) => r.name === name);

  it("makes the routes live before Ready, and requests with a key reach the model; 401 without one", async () => {
    const created = await plane.create(
      "bindings",
      "chat",
      binding("/chat", { routes: [{ path: "/chat" }, { path: "/chat2" }] }),
    );
    const ready = (await plane.ready("bindings", "chat")) as AIModelBinding;
    const route = `amb.${plane.namespace}.chat.0`;
    const live = await liveRoute(route);
    assert.deepEqual(live?.source, { uid: created.metadata.uid, generation: ready.metadata.generation });
    assert.ok(await liveRoute(`amb.${plane.namespace}.chat.1`));
    assert.deepEqual(ready.status?.keyIds, ["alice", "bob"]);
    assert.equal(ready.status?.upstream, plane.upstream.url);
    assert.deepEqual(
      ready.status?.routes?.map((r) => [r.name, r.pathPrefix, r.upstream, r.breaker]),
      [
        [route, "/chat", plane.upstream.url, "closed"],
        [`amb.${plane.namespace}.chat.1`, "/chat2", plane.upstream.url, "closed"],
      ],
    );
    assert.ok(ready.metadata.finalizers?.includes("ai.kindwatch.dev/gateway"));

    const before = plane.upstream.requests.length;
    const ok = await chat("/chat", alice);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(plane.upstream.requests.at(-1)?.path, "/chat/v1/chat/completions");
    assert.equal((await chat("/chat2", bob)).status, 200);
    assert.equal((await chat("/chat")).status, 401);
    assert.equal((await chat("/chat", "sk-nobody")).status, 401);
    assert.equal(plane.upstream.requests.length, before + 2, "refused requests never reach the model");
  });

  it("answers 429 at the configured rate, and a changed limit goes live with no poll of the gateway on the path", async () => {
    await plane.create(
      "bindings",
      "limited",
      binding("/limited", { rateLimit: { requestsPerSecond: 0.01, burst: 2 } }),
    );
    await plane.ready("bindings", "limited");
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await chat("/limited", alice)).status);
    assert.deepEqual(statuses, [200, 200, 429]);

    const route = `amb.${plane.namespace}.limited.0`;
    // The monitor cannot read the gateway meanwhile: the watch event alone carries the change to the gateway.
    await plane.withoutPolls(async () => {
      const patched = await plane
        .kind("bindings")
        .patch("limited", { spec: { rateLimit: { requestsPerSecond: 50, burst: 2 } } }, "merge");
      await waitFor(
        "the new generation live in the gateway",
        async () => (await liveRoute(route))?.source.generation === patched.metadata.generation,
        { intervalMs: 10 },
      );
      // From one request a hundred seconds to fifty a second: the empty bucket refills before the wait's deadline only
      // under the new limit.
      await waitFor("a request admitted again", async () => (await chat("/limited", alice)).status === 200, {
        intervalMs: 10,
      });
    });
    assert.deepEqual((await liveRoute(route))?.limit, { requestsPerSecond: 50, burst: 2 });
  });

  it("rotates keys when the Secret changes, without a gateway restart or a new generation", async () => {
    await plane.secret("rotating", { alice });
    await plane.create(
      "bindings",
      "rotate",
      binding("/rotate", { authentication: { secretRef: { name: "rotating" } } }),
    );
    const ready = await plane.ready("bindings", "rotate");
    assert.equal((await chat("/rotate", alice)).status, 200);
    const bootId = (await plane.state()).bootId;
    const rotate = (value: string) =>
      plane.cluster.client
        .resource(secretsGvr)
        .namespace(plane.namespace)
        .patch("rotating", { data: { alice: Buffer.from(value).toString("base64") } }, "merge");
    await rotate(rotated);
    await waitFor("the rotated key to be accepted", async () => (await chat("/rotate", rotated)).status === 200);
    assert.equal((await chat("/rotate", alice)).status, 401);
    // Again, long after the binding's own changes: only the Secret's watch can bring this one.
    await rotate(rotatedAgain);
    await waitFor("the key rotated again", async () => (await chat("/rotate", rotatedAgain)).status === 200);
    assert.equal((await chat("/rotate", rotated)).status, 401);
    assert.equal((await plane.state()).bootId, bootId);
    assert.equal((await plane.kind("bindings").get("rotate")).metadata.generation, ready.metadata.generation);
  });

  it("refuses every key once its Secret or a key it names is gone, Degraded, and takes them again when back", async () => {
    const secrets = plane.cluster.client.resource(secretsGvr).namespace(plane.namespace);
    await plane.secret("revocable", { alice, bob });
    await plane.create(
      "bindings",
      "revoke",
      binding("/revoke", { authentication: { secretRef: { name: "revocable" }, keys: ["alice", "bob"] } }),
    );
    await plane.ready("bindings", "revoke");
    const statuses = async () => [(await chat("/revoke", alice)).status, (await chat("/revoke", bob)).status];
    assert.deepEqual(await statuses(), [200, 200]);

    await secrets.patch("revocable", { data: { bob: null } }, "merge");
    const noKey = (await plane.degraded("bindings", "revoke", "KeyNotFound")) as AIModelBinding;
    // Degraded is reported once the gateway refuses the keys: no wait here.
    assert.deepEqual(await statuses(), [401, 401], "alice, still in the Secret, is refused too");
    assert.deepEqual(noKey.status?.keyIds, []);
    await secrets.patch("revocable", { data: { bob: Buffer.from(bob).toString("base64") } }, "merge");
    await plane.ready("bindings", "revoke");
    assert.deepEqual(await statuses(), [200, 200]);

    await secrets.delete("revocable");
    const noSecret = (await plane.degraded("bindings", "revoke", "SecretNotFound")) as AIModelBinding;
    assert.deepEqual(await statuses(), [401, 401]);
    assert.deepEqual(noSecret.status?.keyIds, []);
    assert.equal((await chat("/revoke")).status, 401);

    await plane.secret("revocable", { alice, bob });
    const ready = (await plane.ready("bindings", "revoke")) as AIModelBinding;
    assert.equal(conditionOf(ready, "Degraded")?.status, "False");
    assert.deepEqual(ready.status?.keyIds, ["alice", "bob"]);
    assert.deepEqual(await statuses(), [200, 200]);
  });

  it("closes an open route at once when authentication is added with a Secret that is missing", async () => {
    const open = binding("/opened", { authentication: undefined });
    await plane.create("bindings", "opened", open);
    await plane.ready("bindings", "opened");
    assert.equal((await chat("/opened")).status, 200);

    await plane
      .kind("bindings")
      .patch("opened", { spec: { authentication: { secretRef: { name: "late-keys" } } } }, "merge");
    const degraded = (await plane.degraded("bindings", "opened", "SecretNotFound")) as AIModelBinding;
    // Degraded is reported once the gateway holds the route closed: no wait here.
    assert.equal((await chat("/opened")).status, 401, "the route stayed open without its keys");
    assert.equal((await chat("/opened", alice)).status, 401);
    assert.deepEqual(degraded.status?.keyIds, []);

    await plane.secret("late-keys", { alice });
    await plane.ready("bindings", "opened");
    assert.equal((await chat("/opened", alice)).status, 200);
    assert.equal((await chat("/opened")).status, 401);
  });

  it("shows a route's circuit breaker opening in status", async () => {
    const failing = await OpenAIUpstream.start("failing");
    try {
      await plane.create("bindings", "breaking", binding("/breaking", { target: { url: failing.url } }));
      await plane.ready("bindings", "breaking");
      failing.fail({ kind: "status", status: 500 });
      for (let i = 0; i < 5; i++) assert.equal((await chat("/breaking", alice)).status, 500);
      await waitFor("the open breaker in status", async () => {
        const b = (await plane.kind("bindings").get("breaking")) as AIModelBinding;
        return b.status?.routes?.[0]?.breaker === "open";
      });
    } finally {
      await failing.stop();
    }
  });

  it("removes the routes of a deleted binding before its finalizer is released", async () => {
    await plane.create("bindings", "doomed", binding("/doomed"));
    await plane.ready("bindings", "doomed");
    const route = `amb.${plane.namespace}.doomed.0`;
    assert.ok(await liveRoute(route));
    const bindings = plane.kind("bindings");
    // A second finalizer keeps the object once the operator released its own, to look at the gateway then.
    const hold = "test.kindwatch.dev/hold";
    await bindings.patch("doomed", [{ op: "add", path: "/metadata/finalizers/-", value: hold }], "json");
    await bindings.delete("doomed");
    const released = await waitFor("the operator to release its finalizer", async () => {
      const obj = await bindings.get("doomed");
      return obj.metadata.deletionTimestamp && !obj.metadata.finalizers?.includes(gatewayFinalizer) ? obj : undefined;
    });
    assert.equal(await liveRoute(route), undefined, "the route outlived the operator's finalizer");
    assert.equal(
      (await plane.state()).keysets.find((k) => k.name === `amb.${plane.namespace}.doomed`),
      undefined,
    );
    assert.equal((await chat("/doomed", alice)).status, 404);
    await bindings.patch(
      "doomed",
      { metadata: { finalizers: [], resourceVersion: released.metadata.resourceVersion } },
      "merge",
    );
    await waitFor("the binding to be gone", () =>
      bindings.get("doomed").then(
        () => false,
        () => true,
      ),
    );
  });

  it("applies every route again when the gateway restarted", async () => {
    await plane.create("bindings", "survivor", binding("/survivor"));
    await plane.ready("bindings", "survivor");
    const ours = (s: { routes: { name: string }[] }) =>
      s.routes
        .map((r) => r.name)
        .filter((n) => n.startsWith(`amb.${plane.namespace}.`))
        .sort();
    const before = ours(await plane.state());
    assert.ok(before.length >= 2, before.join(", "));
    const oldBoot = (await plane.state()).bootId;
    plane.gateway = await plane.gateway.restart();
    assert.notEqual(plane.gateway.bootId, oldBoot);
    await waitFor("every route back", async () => JSON.stringify(ours(await plane.state())) === JSON.stringify(before));
    assert.equal((await chat("/survivor", alice)).status, 200);
    assert.equal((await chat("/survivor")).status, 401);
  });

  it("keeps the finalizer, and the binding, while the gateway cannot remove its routes", async () => {
    await plane.create("bindings", "held", binding("/held"));
    await plane.ready("bindings", "held");
    await plane.gateway.stop();
    await plane.kind("bindings").delete("held");
    await waitFor("a failed cleanup of the binding", () =>
      plane.logs.some((l) => l.includes('"name":"held"') && l.includes("reconcile failed, retrying")),
    );
    const held = await plane.kind("bindings").get("held");
    assert.ok(held.metadata.deletionTimestamp, "being deleted");
    assert.deepEqual(held.metadata.finalizers, ["ai.kindwatch.dev/gateway"]);
    plane.gateway = await plane.gateway.restart();
    await waitFor("the binding to be gone", async () =>
      plane
        .kind("bindings")
        .get("held")
        .then(
          () => false,
          () => true,
        ),
    );
  });

  it("reports a missing Secret, key, deployment or Service as Degraded with an Event, and recovers", async () => {
    const cases: { name: string; spec: Record<string, unknown>; reason: string; fix: () => Promise<unknown> }[] = [
      {
        name: "no-secret",
        spec: binding("/no-secret", { authentication: { secretRef: { name: "later" } } }),
        reason: "SecretNotFound",
        fix: () => plane.secret("later", { alice }),
      },
      {
        name: "no-key",
        spec: binding("/no-key", { authentication: { secretRef: { name: "partial" }, keys: ["carol"] } }),
        reason: "KeyNotFound",
        fix: () =>
          plane.cluster.client
            .resource(secretsGvr)
            .namespace(plane.namespace)
            .patch("partial", { data: { carol: Buffer.from("sk-carol-1").toString("base64") } }, "merge"),
      },
      {
        name: "no-deployment",
        spec: binding("/no-deployment", { target: { deploymentRef: { name: "llama" } } }),
        reason: "DeploymentNotFound",
        fix: () =>
          plane.create("deployments", "llama", {
            model: { name: "llama-3" },
            framework: "vllm",
            image: "x",
            replicas: 1,
          }),
      },
      {
        name: "no-service",
        spec: binding("/no-service", { target: { serviceRef: { name: "svc", port: 8000 } } }),
        reason: "ServiceNotFound",
        fix: () =>
          plane.cluster.client
            .resource({ group: "", version: "v1", resource: "services" })
            .namespace(plane.namespace)
            .create({
              apiVersion: "v1",
              kind: "Service",
              metadata: { name: "svc" },
              spec: { ports: [{ port: 8000 }] },
            } as KubeObject),
      },
    ];
    await plane.secret("partial", { bob });
    for (const c of cases) await plane.create("bindings", c.name, c.spec);
    for (const c of cases) {
      const degraded = await plane.degraded("bindings", c.name, c.reason);
      assert.equal(conditionOf(degraded, "Ready")?.status, "False");
      assert.equal((degraded as AIModelBinding).status?.observedGeneration, undefined, "nothing was made live");
      await waitFor(`a Warning Event ${c.reason} about ${c.name}`, async () =>
        (await plane.events(c.name)).some((e) => e.type === "Warning" && e.reason === c.reason),
      );
      assert.equal(await liveRoute(`amb.${plane.namespace}.${c.name}.0`), undefined);
    }
    for (const c of cases) await c.fix();
    for (const c of cases) {
      const ready = await plane.ready("bindings", c.name);
      assert.equal(conditionOf(ready, "Degraded")?.status, "False");
    }
    assert.equal((await chat("/no-deployment", alice)).status, 200);
  });

  it("is never Ready for what the gateway refused: Degraded GatewayRejected with the gateway's reason", async () => {
    // The schema refuses most of what the gateway would; a port beyond 65535 passes its URL check, not the gateway's.
    await plane.create(
      "bindings",
      "refused",
      binding("/refused", { target: { url: "http://models.example.com:99999" } }),
    );
    const degraded = await plane.degraded("bindings", "refused", "GatewayRejected");
    assert.match(conditionOf(degraded, "Degraded")?.message ?? "", /upstreams\[0\]\.url: not an http\(s\) URL/);
    assert.equal(conditionOf(degraded, "Ready")?.status, "False");
    assert.equal((degraded as AIModelBinding).status?.observedGeneration, undefined);
    await plane.kind("bindings").patch("refused", { spec: { target: { url: plane.upstream.url } } }, "merge");
    const ready = await plane.ready("bindings", "refused");
    assert.equal(conditionOf(ready, "Degraded")?.status, "False");
  });

  it("never shows a key in logs, Events or status", async () => {
    const everything = JSON.stringify([
      plane.logs,
      (await plane.kind("bindings").list()).items,
      await plane.cluster.client
        .resource({ group: "events.k8s.io", version: "v1", resource: "events" })
        .namespace(plane.namespace)
        .list(),
    ]);
    assert.ok(plane.logs.length > 0, "the operator logged something");
    for (const key of [alice, bob, rotated, rotatedAgain, "sk-carol-1"]) {
      assert.equal(everything.includes(key), false, `${key} appears`);
      assert.equal(everything.includes(Buffer.from(key).toString("base64")), false, `${key} appears in base64`);
    }
  });
});
