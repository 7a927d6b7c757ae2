/**
 * The full control plane runs workloads: the Deployment and ReplicaSet controllers make Pods, the scheduler places
 * them on KWOK's fake nodes (extended resources such as GPUs included), and KWOK makes them Running and Ready.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { GroupVersionResource } from "../../src/client/index.js";
import { getCondition, isConditionTrue } from "../../src/object/conditions.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, deploymentsGvr } from "../support/client.js";
import { fullClientEnv } from "../support/full.js";
import { waitFor } from "../support/wait.js";

const podsGvr: GroupVersionResource = { group: "", version: "v1", resource: "pods" };
const nodesGvr: GroupVersionResource = { group: "", version: "v1", resource: "nodes" };

function pod(name: string, requests: Record<string, string>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: {
      containers: [{ name: "app", image: "registry.k8s.io/pause:3.10", resources: { requests, limits: requests } }],
    },
  };
}

interface PodView {
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

describe("full control plane: workloads", () => {
  let env: ClientEnv;
  let nodeNames: Set<string>;

  before(async () => {
    env = await fullClientEnv("full-workloads");
    const nodes = await env.client.resource(nodesGvr).list();
    nodeNames = new Set(nodes.items.map((n) => n.metadata.name ?? ""));
  });
  after(() => env.close());

  it("runs a Deployment of 3 replicas as 3 ready Pods on the fake nodes, and removes them when scaled to 0", async () => {
    const deployments = env.client.resource(deploymentsGvr).namespace(env.namespace);
    const pods = env.client.resource(podsGvr).namespace(env.namespace);
    const labels = { app: "web" };
    await deployments.create({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        replicas: 3,
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
        },
      },
    });
    const ready = await waitFor(
      "3 Running and Ready Pods",
      async () => {
        const list = await pods.list({ labelSelector: "app=web" });
        const up = list.items.filter((p) => (p as PodView).status?.phase === "Running" && isConditionTrue(p, "Ready"));
        return up.length === 3 && list.items.length === 3 ? list.items : undefined;
      },
      { timeoutMs: 60_000 },
    );
    for (const p of ready) {
      const node = (p as PodView).spec?.nodeName ?? "";
      assert.ok(nodeNames.has(node), `${p.metadata.name} runs on fake node ${node}`);
    }
    await waitFor("the Deployment to report 3 ready replicas", async () => {
      const d = (await deployments.get("web")) as { status?: { readyReplicas?: number } };
      return d.status?.readyReplicas === 3;
    });

    await deployments.patchScale("web", { spec: { replicas: 0 } }, "merge");
    await waitFor(
      "the Pods to be gone",
      async () => (await pods.list({ labelSelector: "app=web" })).items.length === 0,
      {
        timeoutMs: 60_000,
      },
    );
    // The Deployment's status follows its Pods: it says 0 a moment after they are gone.
    await waitFor("the Deployment to report 0 replicas", async () => {
      const d = (await deployments.get("web")) as { status?: { replicas?: number } };
      return (d.status?.replicas ?? 0) === 0;
    });
  });

  it("schedules a Pod that requests a GPU onto a fake node, where it runs", async () => {
    const pods = env.client.resource(podsGvr).namespace(env.namespace);
    await pods.create(pod("gpu", { "nvidia.com/gpu": "1" }));
    const running = await waitFor(
      "the GPU Pod to run",
      async () => {
        const p = await pods.get("gpu");
        return (p as PodView).status?.phase === "Running" && isConditionTrue(p, "Ready") ? p : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.ok(nodeNames.has((running as PodView).spec?.nodeName ?? ""), "placed on a fake node");
    assert.equal(getCondition(running, "PodScheduled")?.status, "True");
  });

  it("leaves a Pod that asks for more than any node has Pending, with the scheduler's reason", async () => {
    const pods = env.client.resource(podsGvr).namespace(env.namespace);
    await pods.create(pod("too-big", { "nvidia.com/gpu": "1000" }));
    const unschedulable = await waitFor("the scheduler to give up on the Pod", async () => {
      const p = await pods.get("too-big");
      const scheduled = getCondition(p, "PodScheduled");
      return scheduled?.status === "False" ? { p, scheduled } : undefined;
    });
    assert.equal(unschedulable.scheduled.reason, "Unschedulable");
    assert.match(unschedulable.scheduled.message ?? "", /Insufficient nvidia\.com\/gpu/);
    const view = unschedulable.p as PodView;
    assert.equal(view.status?.phase, "Pending");
    assert.equal(view.spec?.nodeName, undefined);
  });
});
