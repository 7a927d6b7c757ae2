/**
 * One broken kind never blocks the others: run as a user whom RBAC lets list some kinds only, the engine quarantines
 * a forbidden kind (found by a SelfSubjectAccessReview) and a kind whose conversion webhook is down, with reasons,
 * while the other kinds sync and stream, with a single listing slot; a kind granted later is picked up by the retries.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { GroupVersionResource } from "../../src/client/gvr.js";
import type { Transport } from "../../src/http/transport.js";
import type { KubeObject } from "../../src/object/types.js";
import type { TestUser } from "../../src/testing/index.js";
import { type ClientEnv, clientEnv, crdsGvr } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { uniqueName } from "../support/wait.js";
import { EventLog, engineCluster, isObjectEvent, simpleCrd, transportFor, uniqueGroup } from "../support/watchall.js";

const clusterRoles: GroupVersionResource = {
  group: "rbac.authorization.k8s.io",
  version: "v1",
  resource: "clusterroles",
};
const clusterRoleBindings: GroupVersionResource = { ...clusterRoles, resource: "clusterrolebindings" };

describe("watch-all: quarantined kinds", () => {
  let env: ClientEnv;
  let user: TestUser;
  let transport: Transport;
  const allowed = simpleCrd(uniqueGroup("waq-ok"));
  const forbidden = simpleCrd(uniqueGroup("waq-no"));
  const converted: CrdSpec = {
    ...simpleCrd(uniqueGroup("waq-conv")),
    versions: [{ name: "v1", storage: true }, { name: "v2" }],
  };
  const role = uniqueName("watchall-quarantine");
  const grantRole = `${role}-later`;

  before(async () => {
    env = await clientEnv("watchall-quarantine");
    user = await env.cluster.user(uniqueName("watcher"));
    transport = transportFor(user.kubeconfigPath);
  });
  after(async () => {
    for (const name of [role, grantRole]) {
      await env.client
        .resource(clusterRoleBindings)
        .delete(name)
        .catch(() => {});
      await env.client
        .resource(clusterRoles)
        .delete(name)
        .catch(() => {});
    }
    for (const spec of [allowed, forbidden, converted]) await deleteCrd(env.transport, spec);
    await transport.close();
    await env.close();
  });

  async function grant(name: string, rules: unknown[]): Promise<void> {
    await env.client.resource(clusterRoles).create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name },
      rules,
    } as KubeObject);
    await env.client.resource(clusterRoleBindings).create({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
      subjects: [user.subject],
    } as KubeObject);
  }

  const gizmo = (group: string, name: string, version = "v1"): KubeObject => ({
    apiVersion: `${group}/${version}`,
    kind: "Gizmo",
    metadata: { name },
    spec: { n: 1 },
  });

  it("quarantines a forbidden kind and one whose conversion webhook is down, while the others sync and stream", async () => {
    for (const spec of [allowed, forbidden, converted]) await createCrd(env.transport, spec);
    // Objects stored at v1, served to the engine at v2 (the preferred version): every list needs the webhook.
    const caBundle = Buffer.from(env.cluster.admin.caPem ?? "").toString("base64");
    const crd = await env.client.resource(crdsGvr).get(`gizmos.${converted.group}`);
    (crd.spec as Record<string, unknown>).conversion = {
      strategy: "Webhook",
      webhook: { clientConfig: { url: "https://127.0.0.1:1/convert", caBundle }, conversionReviewVersions: ["v1"] },
    };
    await env.client.resource(crdsGvr).update(crd);
    for (const spec of [allowed, forbidden, converted]) {
      const gvr = { group: spec.group, version: "v1", resource: "gizmos" };
      await env.client.resource(gvr).namespace(env.namespace).create(gizmo(spec.group, "first"));
    }
    const gizmos = ["gizmos"];
    await grant(role, [
      { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["list", "watch"] },
      { apiGroups: [allowed.group, converted.group], resources: gizmos, verbs: ["list", "watch"] },
    ]);

    const groups = [allowed.group, forbidden.group, converted.group];
    const log = EventLog.start(engineCluster(transport), {
      include: { groups },
      // One slot: a quarantined kind that kept it would keep the healthy one from ever listing.
      concurrency: 1,
      informer: { backoff: { initialMs: 200, maxMs: 1000 } },
    });
    try {
      const noAccess = await log.kindEvent(forbidden.group, "KIND_QUARANTINED");
      assert.match((noAccess as { reason?: string }).reason ?? "", /^forbidden: cannot list gizmos/);
      const broken = await log.kindEvent(converted.group, "KIND_QUARANTINED");
      assert.match((broken as { reason?: string }).reason ?? "", /conversion webhook/);
      await log.kindEvent(allowed.group, "KIND_SYNCED");
      assert.deepEqual(log.object(allowed.group, "first"), ["ADDED initial"]);

      await env.client
        .resource({ group: allowed.group, version: "v1", resource: "gizmos" })
        .namespace(env.namespace)
        .patch("first", { spec: { n: 2 } }, "merge");
      await log.next("the allowed kind's live update", (e) => e.group === allowed.group && e.type === "MODIFIED");
      assert.deepEqual(log.object(allowed.group, "first"), ["ADDED initial", "MODIFIED live spec.n"]);

      const status = log.engine.status();
      const state = (group: string) => status.kinds.find((k) => k.group === group);
      assert.equal(state(allowed.group)?.state, "synced");
      assert.equal(state(forbidden.group)?.state, "quarantined");
      assert.match(state(forbidden.group)?.reason ?? "", /forbidden/);
      assert.equal(state(converted.group)?.state, "quarantined");
      assert.match(state(converted.group)?.reason ?? "", /conversion webhook/);
      assert.equal(state(converted.group)?.version, "v2");
      assert.equal(status.synced, 1);
      assert.equal(status.quarantined, 2);
      for (const group of [forbidden.group, converted.group]) {
        assert.deepEqual(log.of(group).filter(isObjectEvent), [], `${group}: no objects while quarantined`);
        const v = group === converted.group ? "v2" : "v1";
        assert.deepEqual(log.kinds(group).slice(0, 2), [`KIND_ADDED ${v}`, `KIND_QUARANTINED ${v}`]);
      }

      // Granted now: the backoff retries find out, and the kind syncs.
      await grant(grantRole, [{ apiGroups: [forbidden.group], resources: gizmos, verbs: ["list", "watch"] }]);
      await log.kindEvent(forbidden.group, "KIND_SYNCED");
      assert.deepEqual(log.object(forbidden.group, "first"), ["ADDED initial"]);
      assert.deepEqual(log.kinds(forbidden.group), ["KIND_ADDED v1", "KIND_QUARANTINED v1", "KIND_SYNCED v1"]);
      assert.equal(log.engine.status().kinds.find((k) => k.group === converted.group)?.state, "quarantined");
    } finally {
      await log.stop();
    }
  });
});
