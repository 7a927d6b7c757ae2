/**
 * kube-apiserver is killed and restarted under a full control plane: kube-controller-manager, kube-scheduler and KWOK
 * reconnect on their own, so that a Deployment scaled afterwards gets its new Pods made, placed and running.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { GroupVersionResource } from "../../src/client/index.js";
import { isConditionTrue } from "../../src/object/conditions.js";
import { deployment, deploymentsGvr } from "../support/client.js";
import { faultSuite } from "../support/faults.js";
import { waitFor } from "../support/wait.js";

const podsGvr: GroupVersionResource = { group: "", version: "v1", resource: "pods" };

describe("kube-apiserver restarted under a full control plane", () => {
  const suite = faultSuite("full-restart", { controlPlane: "full", nodes: 1 });

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
