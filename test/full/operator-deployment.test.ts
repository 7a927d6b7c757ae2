/**
 * The AIModelDeployment controller on the full control plane, with a real gateway process: the Deployment and Service
 * it owns run as Pods on KWOK's fake nodes, Ready follows the Pods, the scale subresource reaches the Deployment, an
 * endpoint is a live gateway route in front of a stand-in model server, deleting removes the route before the
 * finalizer goes, and a missing Secret is Degraded (its keys refused) until the Secret appears.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SharedInformerFactory } from "../../src/cache/factory.js";
import { DynamicClient, type GroupVersionResource } from "../../src/client/index.js";
import { EventRecorder } from "../../src/controller/events.js";
import type { ControllerCluster } from "../../src/controller/index.js";
import { DiscoveryClient } from "../../src/discovery/client.js";
import { RestMapper } from "../../src/discovery/mapper.js";
import type { GatewayStateView, RouteView } from "../../src/gateway/admin.js";
import { type GatewayDriver, HttpGatewayDriver } from "../../src/gateway/driver.js";
import { isNotFound } from "../../src/http/errors.js";
import { getCondition, isConditionTrue } from "../../src/object/conditions.js";
import type { KubeObject } from "../../src/object/types.js";
import { aiModelDeploymentController } from "../../src/operator/deployment.js";
import type { GatewayChange, GatewayMonitor, OperatorDeps } from "../../src/operator/deps.js";
import {
  gatewayFinalizer,
  hardwareClassLabel,
  operatorFieldManager,
  workloadLabels,
} from "../../src/operator/names.js";
import { type AIModelDeployment, aiApiVersion, aiResources } from "../../src/operator/types.js";
import { type ClientEnv, deploymentsGvr } from "../support/client.js";
import { fullClientEnv } from "../support/full.js";
import { GatewayProcess } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { installOperatorCrds } from "../support/operator.js";
import { uniqueName, waitFor } from "../support/wait.js";

const servicesGvr: GroupVersionResource = { group: "", version: "v1", resource: "services" };
const secretsGvr: GroupVersionResource = { group: "", version: "v1", resource: "secrets" };
const podsGvr: GroupVersionResource = { group: "", version: "v1", resource: "pods" };
const nodesGvr: GroupVersionResource = { group: "", version: "v1", resource: "nodes" };
const eventsGvr: GroupVersionResource = { group: "events.k8s.io", version: "v1", resource: "events" };

/** The label selector string of a model's Pods. */
const selectorOf = (name: string) =>
  Object.entries(workloadLabels(name))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

/** A monitor the test drives: its state is what the test last read from the gateway, its changes what it says. */
class TestMonitor implements GatewayMonitor {
  state: GatewayStateView | undefined;
  readonly #listeners = new Set<(change: GatewayChange) => void>();

  latest(): GatewayStateView | undefined {
    return this.state;
  }

  subscribe(listener: (change: GatewayChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(change: GatewayChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}

interface DeploymentView extends KubeObject {
  spec: {
    replicas: number;
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        nodeSelector?: Record<string, string>;
        containers: {
          name: string;
          image: string;
          args?: string[];
          env?: { name: string; value: string }[];
          ports: { name: string; containerPort: number }[];
          resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
          readinessProbe?: { httpGet: { path: string; port: string } };
        }[];
      };
    };
  };
}

describe("full control plane: the AIModelDeployment controller", () => {
  let env: ClientEnv;
  let gateway: GatewayProcess;
  let upstream: OpenAIUpstream;
  let cluster: ControllerCluster;
  let recorder: EventRecorder;
  let driver: HttpGatewayDriver;
  const monitor = new TestMonitor();
  const stop = new AbortController();
  let running: Promise<void>;
  /**
   * What the AIModelDeployment looked like on the server each time the controller deleted a route, and whether the
   * route was there (a reconcile from a stale cache may delete it again once it is gone, which is harmless).
   */
  const atRouteDeletion: { route: string; owner: KubeObject | "gone"; removed: boolean }[] = [];
  const labelledNodes: string[] = [];
  let ns: string;

  const amds = () => env.client.resource<AIModelDeployment>(aiResources.deployments).namespace(ns);
  const routeOf = async (name: string): Promise<RouteView | undefined> =>
    (await driver.state()).routes.find((r) => r.name === `amd.${ns}.${name}`);

  // What a user writes: the schema's defaults (endpoint methods, the key header) are the API server's to fill in.
  const create = (name: string, spec: Record<string, unknown>) =>
    amds().create({
      apiVersion: aiApiVersion,
      kind: "AIModelDeployment",
      metadata: { name },
      spec: {
        model: { name: "meta/llama-3" },
        framework: "vllm",
        image: "vllm/vllm-openai:v0.6",
        replicas: 1,
        ...spec,
      },
    });

  /** Every version of one AIModelDeployment the server holds from now on, as a watch from a listed version delivers them. */
  const versionsOf = async (name: string) => {
    const versions: AIModelDeployment[] = [];
    const fieldSelector = `metadata.name=${name}`;
    const { resourceVersion } = (await amds().list({ fieldSelector })).metadata;
    const watching = (async () => {
      try {
        for await (const e of amds().watch({ fieldSelector, resourceVersion, signal: stop.signal })) {
          if (e.type === "ADDED" || e.type === "MODIFIED") versions.push(e.object);
        }
      } catch {
        // The test ended the watch.
      }
    })();
    return { versions, watching };
  };

  const readyAt = (name: string, generation?: number) =>
    waitFor(
      `${name} to be Ready${generation === undefined ? "" : ` at generation ${generation}`}`,
      async () => {
        const amd = await amds().get(name);
        const ready = getCondition(amd, "Ready");
        const observed = amd.status?.observedGeneration;
        if (ready?.status !== "True" || observed !== amd.metadata.generation) return undefined;
        return generation === undefined || observed === generation ? amd : undefined;
      },
      { timeoutMs: 60_000 },
    );

  before(async () => {
    env = await fullClientEnv("full-operator-amd");
    ns = env.namespace;
    const client = new DynamicClient(env.transport);
    const mapper = new RestMapper(new DiscoveryClient(env.transport));
    await installOperatorCrds(client, mapper);
    gateway = await GatewayProcess.start();
    upstream = await OpenAIUpstream.start("model");
    driver = new HttpGatewayDriver({ url: gateway.adminUrl, token: gateway.token });
    // Records, at the moment the controller removes a route, whether its AIModelDeployment is still there.
    const recording: GatewayDriver = {
      get bootId() {
        return driver.bootId;
      },
      applyRoute: (spec) => driver.applyRoute(spec),
      applyKeySet: (spec) => driver.applyKeySet(spec),
      applyProfile: (spec) => driver.applyProfile(spec),
      deleteRoute: async (name) => {
        const owner = await amds()
          .get(name.split(".").slice(2).join("."))
          .catch((err: unknown) => {
            if (isNotFound(err)) return "gone" as const;
            throw err;
          });
        const removed = await driver.deleteRoute(name);
        atRouteDeletion.push({ route: name, owner, removed });
        return removed;
      },
      deleteKeySet: (name) => driver.deleteKeySet(name),
      deleteProfile: (name) => driver.deleteProfile(name),
      state: () => driver.state(),
    };
    recorder = new EventRecorder(client, {
      reportingController: "kindwatch.dev/operator-test",
      reportingInstance: "test",
      logger: "none",
    });
    const deps: OperatorDeps = {
      driver: recording,
      monitor,
      serviceUrl: () => upstream.url,
      recorder,
      namespace: ns,
    };
    cluster = { client, informers: new SharedInformerFactory(client, { logger: "none" }), mapper };
    running = aiModelDeploymentController(cluster, deps, { logger: "none" }).run(stop.signal);
  });

  after(async () => {
    stop.abort();
    await running;
    await cluster?.informers.shutdown();
    await recorder?.close();
    for (const node of labelledNodes) {
      await env.client
        .resource(nodesGvr)
        .patch(node, { metadata: { labels: { [hardwareClassLabel]: null } } }, "merge")
        .catch(() => {});
    }
    await gateway?.stop();
    await upstream?.stop();
    await env?.close();
  });

  it("runs the model as a Deployment and Service it owns, with the framework's command line, resources and node selector, Ready once the Pods are", async () => {
    const hardwareClass = uniqueName("h100");
    await env.client
      .resource(nodesGvr)
      .patch("kwok-node-1", { metadata: { labels: { [hardwareClassLabel]: hardwareClass } } }, "merge");
    labelledNodes.push("kwok-node-1");
    const { versions } = await versionsOf("llama");
    const amd = await create("llama", {
      replicas: 2,
      hardwareClass,
      resources: { cpu: "500m", memory: "1Gi", gpu: 1 },
      args: ["--dtype", "half"],
      env: [{ name: "HF_HOME", value: "/cache" }],
    });

    const deployment = await waitFor("the Deployment", async () =>
      (await env.client.resource(deploymentsGvr).namespace(ns).list()).items.find((d) => d.metadata.name === "llama"),
    );
    const owner = {
      apiVersion: aiApiVersion,
      kind: "AIModelDeployment",
      name: "llama",
      uid: amd.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    };
    assert.deepEqual(deployment.metadata.ownerReferences, [owner]);
    const { spec } = deployment as DeploymentView;
    assert.equal(spec.replicas, 2);
    assert.deepEqual(spec.template.spec.nodeSelector, { [hardwareClassLabel]: hardwareClass });
    const [model, ...others] = spec.template.spec.containers;
    assert.equal(others.length, 0);
    assert.equal(model?.name, "model");
    assert.equal(model?.image, "vllm/vllm-openai:v0.6");
    assert.deepEqual(model?.args, ["--model", "meta/llama-3", "--port", "8000", "--dtype", "half"]);
    assert.deepEqual(model?.env, [{ name: "HF_HOME", value: "/cache" }]);
    assert.deepEqual(
      model?.ports.map((p) => [p.name, p.containerPort]),
      [["http", 8000]],
    );
    const amounts = { cpu: "500m", memory: "1Gi", "nvidia.com/gpu": "1" };
    assert.deepEqual(model?.resources, { requests: amounts, limits: amounts });
    assert.deepEqual(model?.readinessProbe?.httpGet, { path: "/health", port: "http", scheme: "HTTP" });
    const appliers = (deployment.metadata.managedFields as { manager?: string; operation?: string }[])
      .filter((m) => m.operation === "Apply")
      .map((m) => m.manager);
    assert.deepEqual(appliers, [operatorFieldManager]);

    const service = await waitFor("the Service", async () =>
      (await env.client.resource(servicesGvr).namespace(ns).list()).items.find((o) => o.metadata.name === "llama"),
    );
    assert.deepEqual(service.metadata.ownerReferences, [owner]);
    const serviceSpec = service.spec as {
      selector: Record<string, string>;
      ports: { port: number; targetPort: number }[];
    };
    assert.deepEqual(serviceSpec.selector, spec.template.metadata.labels);
    assert.deepEqual(
      serviceSpec.ports.map((p) => [p.port, p.targetPort]),
      [[8000, 8000]],
    );

    const ready = await readyAt("llama");
    assert.equal(ready.status?.readyReplicas, 2);
    assert.equal(ready.status?.replicas, 2);
    assert.equal(ready.status?.serviceUrl, upstream.url);
    assert.equal(ready.status?.selector, selectorOf("llama"));
    assert.equal(getCondition(ready, "Reconciling")?.status, "False");
    assert.equal(getCondition(ready, "Degraded")?.status, "False");
    assert.equal(ready.metadata.finalizers, undefined, "no endpoint, no finalizer");
    const pods = await env.client
      .resource(podsGvr)
      .namespace(ns)
      .list({ labelSelector: ready.status?.selector ?? "" });
    assert.equal(pods.items.length, 2);
    for (const p of pods.items) assert.equal((p.spec as { nodeName?: string }).nodeName, "kwok-node-1");
    // Every version the server held: Ready never ran ahead of the Pods, and Reconciling said so while they started.
    await waitFor("the watch to reach the Ready version", () =>
      versions.some((v) => v.metadata.resourceVersion === ready.metadata.resourceVersion),
    );
    const early = versions.filter((v) => isConditionTrue(v, "Ready") && (v.status?.readyReplicas ?? 0) < 2);
    assert.deepEqual(early, [], "Ready before the replicas were");
    assert.ok(
      versions.some(
        (v) => isConditionTrue(v, "Reconciling") && getCondition(v, "Reconciling")?.reason === "ReplicasNotReady",
      ),
      "Reconciling while the Pods started",
    );
  });

  it("scales through the scale subresource: the Deployment and the status follow", async () => {
    const scale = await amds().patchScale("llama", { spec: { replicas: 3 } }, "merge");
    assert.equal(scale.spec?.replicas, 3);
    await waitFor("the Deployment to want 3", async () => {
      const d = (await env.client.resource(deploymentsGvr).namespace(ns).get("llama")) as DeploymentView;
      return d.spec.replicas === 3;
    });
    const ready = await readyAt("llama", scale.metadata.generation);
    assert.equal(ready.status?.readyReplicas, 3);
    const read = await amds().getScale("llama");
    assert.equal(read.status?.replicas, 3);
    assert.equal(read.status?.selector, selectorOf("llama"));
    const pods = await env.client
      .resource(podsGvr)
      .namespace(ns)
      .list({ labelSelector: read.status?.selector ?? "" });
    assert.equal(pods.items.length, 3);

    await amds().patchScale("llama", { spec: { replicas: 1 } }, "merge");
    await waitFor("1 replica", async () => {
      const amd = await amds().get("llama");
      return amd.status?.replicas === 1 && amd.status.readyReplicas === 1 && isConditionTrue(amd, "Ready");
    });
    // Settled: the Pods scaled away are gone, so the Deployment's status changes no more (the next tests rely on it).
    await waitFor(
      "the scaled-away Pods to be gone",
      async () => {
        const left = await env.client
          .resource(podsGvr)
          .namespace(ns)
          .list({ labelSelector: selectorOf("llama") });
        const d = (await env.client.resource(deploymentsGvr).namespace(ns).get("llama")) as {
          status?: { replicas?: number; terminatingReplicas?: number };
        };
        return left.items.length === 1 && d.status?.replicas === 1 && !d.status.terminatingReplicas;
      },
      { timeoutMs: 90_000 },
    );
  });

  it("makes an endpoint a live gateway route to the model, follows spec changes, and removes it before the finalizer on delete", async () => {
    const amd = await create("chat", { endpoint: { path: "/models/chat" } });
    const ready = await readyAt("chat");
    assert.deepEqual(ready.metadata.finalizers, [gatewayFinalizer]);
    const route = await routeOf("chat");
    assert.deepEqual(route?.source, { uid: amd.metadata.uid, generation: ready.metadata.generation });
    assert.deepEqual(route?.match, { pathPrefix: "/models/chat", methods: ["POST"] });
    assert.deepEqual(route?.upstreams, [{ url: upstream.url, kind: "openai" }]);
    assert.equal(route?.auth, undefined);
    assert.equal(ready.status?.route?.name, `amd.${ns}.chat`);
    assert.equal(ready.status?.route?.upstream, upstream.url);

    const body = JSON.stringify({ model: "meta/llama-3", messages: [{ role: "user", content: "hi" }] });
    const before = upstream.requests.length;
    const answer = await gateway.call("/models/chat/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(upstream.requests.length, before + 1);
    assert.equal((await gateway.call("/models/chat/v1/models")).status === 200, false, "only POST is routed");

    // A spec change: a new path and a limit reach the gateway, a new argument the Deployment.
    const changed = await amds().patch(
      "chat",
      {
        spec: {
          args: ["--max-model-len", "4096"],
          endpoint: { path: "/models/chat2", rateLimit: { requestsPerSecond: 0.5, burst: 1 } },
        },
      },
      "merge",
    );
    const generation = changed.metadata.generation ?? 0;
    assert.ok(generation > (ready.metadata.generation ?? 0));
    await readyAt("chat", generation);
    const live = await routeOf("chat");
    assert.equal(live?.source.generation, generation);
    assert.equal(live?.match.pathPrefix, "/models/chat2");
    assert.deepEqual(live?.limit, { requestsPerSecond: 0.5, burst: 1 });
    const d = (await env.client.resource(deploymentsGvr).namespace(ns).get("chat")) as DeploymentView;
    assert.deepEqual(d.spec.template.spec.containers[0]?.args, [
      "--model",
      "meta/llama-3",
      "--port",
      "8000",
      "--max-model-len",
      "4096",
    ]);
    const post = (path: string) =>
      gateway.call(path, { method: "POST", headers: { "content-type": "application/json" }, body });
    assert.equal((await post("/models/chat/v1/chat/completions")).status, 404);
    assert.equal((await post("/models/chat2/v1/chat/completions")).status, 200);
    assert.equal((await post("/models/chat2/v1/chat/completions")).status, 429);

    await amds().delete("chat");
    await waitFor("the AIModelDeployment to be gone", async () => {
      try {
        await amds().get("chat");
        return false;
      } catch (err) {
        if (isNotFound(err)) return true;
        throw err;
      }
    });
    assert.equal(await routeOf("chat"), undefined);
    const removals = atRouteDeletion.filter((r) => r.route === `amd.${ns}.chat` && r.removed);
    assert.equal(removals.length, 1, "the route was removed once");
    const owner = removals[0]?.owner;
    assert.notEqual(owner, "gone", "the route was removed after the finalizer was released");
    assert.ok(
      owner !== "gone" && owner?.metadata.deletionTimestamp && owner.metadata.finalizers?.includes(gatewayFinalizer),
      "the route was removed while the finalizer held the object being deleted",
    );
    // The garbage collector removes what the custom resource owned.
    await waitFor(
      "the Deployment and Service to be collected",
      async () => {
        const gone = async (gvr: GroupVersionResource) =>
          !(await env.client.resource(gvr).namespace(ns).list()).items.some((o) => o.metadata.name === "chat");
        return (await gone(deploymentsGvr)) && (await gone(servicesGvr));
      },
      { timeoutMs: 60_000 },
    );
  });

  // The next two use the model of the first, whose Deployment has long settled: an endpoint does not change it, so
  // nothing but the Secret (or the gateway's restart) can queue the object again.
  it("is Degraded with an Event while its Secret is missing, and Ready once the Secret appears, the object untouched", async () => {
    const key = "sk-alice-0123456789";
    const amd = await amds().patch(
      "llama",
      { spec: { endpoint: { path: "/models/secured", authentication: { secretRef: { name: "llama-keys" } } } } },
      "merge",
    );
    const secretNotFound = () =>
      waitFor("Degraded SecretNotFound", async () => {
        const now = await amds().get("llama");
        const condition = getCondition(now, "Degraded");
        return condition?.status === "True" && condition.reason === "SecretNotFound" ? now : undefined;
      });
    const degraded = await secretNotFound();
    assert.equal(getCondition(degraded, "Ready")?.status, "False");
    assert.notEqual(degraded.status?.observedGeneration, amd.metadata.generation, "not live, not observed");
    assert.equal(await routeOf("llama"), undefined, "no route without its keys");
    const event = await waitFor("a Warning Event", async () =>
      (await env.client.resource(eventsGvr).namespace(ns).list()).items.find(
        (e) => (e.regarding as { name?: string })?.name === "llama" && e.reason === "SecretNotFound",
      ),
    );
    assert.equal(event.type, "Warning");
    assert.match(String(event.note), /llama-keys/);

    const createSecret = () =>
      env.client
        .resource(secretsGvr)
        .namespace(ns)
        .create({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "llama-keys" },
          data: { alice: Buffer.from(key).toString("base64") },
        });
    await createSecret();
    const ready = await readyAt("llama", amd.metadata.generation);
    assert.equal(getCondition(ready, "Degraded")?.status, "False");
    assert.deepEqual(ready.metadata.finalizers, [gatewayFinalizer]);
    const route = await routeOf("llama");
    // The schema defaults the header to authorization.
    assert.deepEqual(route?.auth, { keySet: `amd.${ns}.llama`, header: "authorization" });
    const keySet = (await driver.state()).keysets.find((k) => k.name === `amd.${ns}.llama`);
    assert.deepEqual(
      keySet?.keys.map((k) => k.id),
      ["alice"],
    );
    const post = (headers: Record<string, string>) =>
      gateway.call("/models/secured/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ model: "meta/llama-3", messages: [{ role: "user", content: "hi" }] }),
      });
    assert.equal((await post({})).status, 401);
    assert.equal((await post({ authorization: `Bearer ${key}` })).status, 200);

    // Credentials removed stop working: the key is refused by the time the object is Degraded, and works again once
    // the Secret is back.
    await env.client.resource(secretsGvr).namespace(ns).delete("llama-keys");
    await secretNotFound();
    assert.equal((await post({ authorization: `Bearer ${key}` })).status, 401);
    await createSecret();
    await readyAt("llama", amd.metadata.generation);
    assert.equal((await post({ authorization: `Bearer ${key}` })).status, 200);
    const events = await env.client.resource(eventsGvr).namespace(ns).list();
    for (const text of [JSON.stringify(ready), JSON.stringify(events.items)]) {
      assert.ok(!text.includes(key) && !text.includes(Buffer.from(key).toString("base64")), "a key leaked");
    }

    // Without an endpoint, the route and keys go and the finalizer with them; the model stays.
    await amds().patch("llama", { spec: { endpoint: null } }, "merge");
    const plain = await waitFor("the finalizer to be released", async () => {
      const now = await amds().get("llama");
      const released = now.metadata.finalizers === undefined && now.status?.route === undefined;
      return released && isConditionTrue(now, "Ready") ? now : undefined;
    });
    assert.equal(plain.status?.readyReplicas, 1, "the model stays");
    assert.equal(await routeOf("llama"), undefined);
    assert.equal(
      (await driver.state()).keysets.some((k) => k.name === `amd.${ns}.llama`),
      false,
    );
  });

  it("applies every route again when the gateway restarted", async () => {
    const amd = await amds().patch("llama", { spec: { endpoint: { path: "/models/again" } } }, "merge");
    await readyAt("llama", amd.metadata.generation);
    assert.ok(await routeOf("llama"));
    gateway = await gateway.restart();
    assert.equal(await routeOf("llama"), undefined, "a new gateway starts empty");
    monitor.emit("restart");
    const route = await waitFor("the route to be back", () => routeOf("llama"));
    assert.equal(route.source.generation, amd.metadata.generation);
  });
});
