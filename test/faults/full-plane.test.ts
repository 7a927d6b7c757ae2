/**
 * A full control plane of the file's own, with one node and a delay before Pods are Ready: the delay holds, and when
 * kube-apiserver is killed and restarted, kube-controller-manager, kube-scheduler and KWOK reconnect on their own, so
 * that a Deployment scaled afterwards gets its new Pods made, placed and running.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GroupVersionResource } from "../../src/client/index.js";
import { getCondition, isConditionTrue } from "../../src/object/conditions.js";
import { deployment, deploymentsGvr } from "../support/client.js";
import { faultSuite } from "../support/faults.js";
import { waitFor } from "../support/wait.js";

const podsGvr: GroupVersionResource = { group: "", version: "v1", resource: "pods" };

const podReadyDelayMs = 5000;

describe("a full control plane of its own", () => {
  const suite = faultSuite("full-plane", { controlPlane: "full", nodes: 1, podReadyDelayMs });

  it("makes a scheduled Pod Ready only after podReadyDelayMs", { timeout: 60_000 }, async () => {
    const pods = suite.env.admin.client.resource(podsGvr).namespace(suite.ns);
    await pods.create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "slow" },
      spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.10" }] },
    });
    const ready = await waitFor("the Pod to be Ready", async () => {
      const p = await pods.get("slow");
      return isConditionTrue(p, "Ready") ? p : undefined;
    });
    // The server's own timestamps (whole seconds), so that a slow poll cannot make the test pass or fail.
    const at = (type: string) => Date.parse(getCondition(ready, type)?.lastTransitionTime ?? "");
    const waited = at("Ready") - at("PodScheduled");
    assert.ok(waited >= podReadyDelayMs - 1000, `Ready ${waited} ms after PodScheduled`);
  });

  it("keeps controllers, scheduler and nodes working after the restart", { timeout: 180_000 }, async () => {
    const { cluster, admin } = suite.env;
    const deployments = admin.client.resource(deploymentsGvr).namespace(suite.ns);
    const pods = admin.client.resource(podsGvr).namespace(suite.ns);
    const readyPods = async (n: number) =>
      waitFor(
        `${n} ready Pods`,
        async () => {
          const list = await pods.list({ labelSelector: "app=web" });
          return list.items.length === n && list.items.every((p) => isConditionTrue(p, "Ready")) ? list : undefined;
        },
        { timeoutMs: 60_000 },
      );
    await deployments.create(deployment("web", 1));
    await readyPods(1);

    await cluster.restartApiServer("SIGKILL");
    assert.ok(cluster.apiServerRunning);
    await deployments.patchScale("web", { spec: { replicas: 3 } }, "merge");
    const after = await readyPods(3);
    for (const p of after.items) {
      assert.ok(cluster.nodeNames.includes(String((p as { spec?: { nodeName?: string } }).spec?.nodeName)));
    }
  });
});
