/**
 * One broken kind never blocks the others: run as a user whom RBAC lets list some kinds only, the engine quarantines
 * forbidden kinds (found by a SelfSubjectAccessReview, or without reviews by their list's Forbidden) and kinds whose
 * conversion webhook is down, with reasons, while the healthy kind syncs and streams, all with a single listing slot;
 * a kind granted later is picked up by the retries. Broken kinds sort both before and after the healthy one, so that
 * a broken kind which kept the only slot would hold up the others whatever the order the engine starts them in.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Transport } from "../../src/http/transport.js";
import type { KubeObject } from "../../src/object/types.js";
import type { TestUser } from "../../src/testing/index.js";
import { type ClientEnv, clientEnv, crdsGvr } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { grantClusterRole, revokeClusterRole } from "../support/rbac.js";
import { uniqueName } from "../support/wait.js";
import { EventLog, engineCluster, isObjectEvent, simpleCrd, transportFor, uniqueGroup } from "../support/watchall.js";

describe("watch-all: quarantined kinds", () => {
  let env: ClientEnv;
  let user: TestUser;
  let transport: Transport;
  // Groups sort by their first letter: "a-" kinds before the healthy "m-" one, "z-" kinds after it.
  const healthy = simpleCrd(uniqueGroup("m-waq-ok"));
  const forbidden = [simpleCrd(uniqueGroup("a-waq-no")), simpleCrd(uniqueGroup("z-waq-no"))];
  const converted: CrdSpec[] = ["a-waq-conv", "z-waq-conv"].map((prefix) => ({
    ...simpleCrd(uniqueGroup(prefix)),
    versions: [{ name: "v1", storage: true }, { name: "v2" }],
  }));
  const broken = [...forbidden, ...converted];
  const all = [healthy, ...broken];
  const role = uniqueName("watchall-quarantine");
  const grantRole = `${role}-later`;
  const gizmos = ["gizmos"];

  const grant = (name: string, rules: unknown[]) => grantClusterRole(env.client, name, user.subject, rules);

  const gizmo = (group: string, name: string, version = "v1"): KubeObject => ({
    apiVersion: `${group}/${version}`,
    kind: "Gizmo",
    metadata: { name },
    spec: { n: 1 },
  });
  const gizmosOf = (group: string) =>
    env.client.resource({ group, version: "v1", resource: "gizmos" }).namespace(env.namespace);

  before(async () => {
    env = await clientEnv("watchall-quarantine");
    user = await env.cluster.user(uniqueName("watcher"));
    transport = transportFor(user.kubeconfigPath);
    for (const spec of all) await createCrd(env.transport, spec);
    // Objects stored at v1, served to the engine at v2 (the preferred version): every list needs the webhook.
    const caBundle = Buffer.from(env.cluster.admin.caPem ?? "").toString("base64");
    for (const spec of converted) {
      const crd = await env.client.resource(crdsGvr).get(`gizmos.${spec.group}`);
      (crd.spec as Record<string, unknown>).conversion = {
        strategy: "Webhook",
        webhook: { clientConfig: { url: "https://127.0.0.1:1/convert", caBundle }, conversionReviewVersions: ["v1"] },
      };
      await env.client.resource(crdsGvr).update(crd);
    }
    for (const spec of all) await gizmosOf(spec.group).create(gizmo(spec.group, "first"));
    await grant(role, [
      { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["list", "watch"] },
      { apiGroups: [healthy.group, ...converted.map((c) => c.group)], resources: gizmos, verbs: ["list", "watch"] },
    ]);
  });
  after(async () => {
    for (const name of [role, grantRole]) await revokeClusterRole(env.client, name);
    for (const spec of all) await deleteCrd(env.transport, spec);
    await transport.close();
    await env.close();
  });

  /** An engine over the test's kinds, as the user, with one listing slot. */
  const engine = (accessReview: boolean) =>
    EventLog.start(engineCluster(transport), {
      include: { groups: all.map((s) => s.group) },
      // One slot: a quarantined kind that kept it would keep every kind after it from ever listing.
      concurrency: 1,
      accessReview,
      informer: { backoff: { initialMs: 200, maxMs: 1000 } },
    });

  /**
   * Waits for every broken kind's quarantine, with `forbiddenReason` for the forbidden ones, and for the healthy kind
   * to sync and stream a live change; then checks that each broken kind is still quarantined and told no objects.
   */
  async function quarantinedWhileHealthyStreams(log: EventLog, forbiddenReason: RegExp, n: number): Promise<void> {
    for (const spec of forbidden) {
      const e = await log.kindEvent(spec.group, "KIND_QUARANTINED");
      assert.match((e as { reason?: string }).reason ?? "", forbiddenReason, spec.group);
    }
    for (const spec of converted) {
      const e = await log.kindEvent(spec.group, "KIND_QUARANTINED");
      assert.match((e as { reason?: string }).reason ?? "", /conversion webhook/, spec.group);
    }
    await log.kindEvent(healthy.group, "KIND_SYNCED");
    assert.deepEqual(log.object(healthy.group, "first"), ["ADDED initial"]);

    await gizmosOf(healthy.group).patch("first", { spec: { n } }, "merge");
    await log.next("the healthy kind's live update", (e) => e.group === healthy.group && e.type === "MODIFIED");
    assert.deepEqual(log.object(healthy.group, "first"), ["ADDED initial", "MODIFIED live spec.n"]);

    const status = log.engine.status();
    const state = (group: string) => status.kinds.find((k) => k.group === group);
    assert.equal(state(healthy.group)?.state, "synced");
    assert.equal(status.synced, 1);
    assert.equal(status.quarantined, broken.length);
    for (const spec of forbidden) {
      assert.equal(state(spec.group)?.state, "quarantined", spec.group);
      assert.match(state(spec.group)?.reason ?? "", forbiddenReason, spec.group);
    }
    for (const spec of converted) {
      assert.equal(state(spec.group)?.state, "quarantined", spec.group);
      assert.match(state(spec.group)?.reason ?? "", /conversion webhook/, spec.group);
      assert.equal(state(spec.group)?.version, "v2");
    }
    for (const spec of broken) {
      const { group } = spec;
      assert.deepEqual(log.of(group).filter(isObjectEvent), [], `${group}: no objects while quarantined`);
      const v = converted.includes(spec) ? "v2" : "v1";
      assert.deepEqual(log.kinds(group).slice(0, 2), [`KIND_ADDED ${v}`, `KIND_QUARANTINED ${v}`]);
    }
  }

  it("without access reviews, quarantines a kind whose list is Forbidden, which gives its slot back", async () => {
    const log = engine(false);
    try {
      await quarantinedWhileHealthyStreams(log, /^Forbidden: /, 2);
    } finally {
      await log.stop();
    }
  });

  it("quarantines forbidden kinds (by access review) and kinds whose conversion webhook is down; granted later, a kind syncs", async () => {
    const log = engine(true);
    try {
      await quarantinedWhileHealthyStreams(log, /^forbidden: cannot list gizmos/, 3);

      // Granted now: the access reviews' retries find out, and the kinds sync.
      await grant(grantRole, [
        { apiGroups: forbidden.map((f) => f.group), resources: gizmos, verbs: ["list", "watch"] },
      ]);
      for (const { group } of forbidden) {
        await log.kindEvent(group, "KIND_SYNCED");
        assert.deepEqual(log.object(group, "first"), ["ADDED initial"]);
        assert.deepEqual(log.kinds(group), ["KIND_ADDED v1", "KIND_QUARANTINED v1", "KIND_SYNCED v1"]);
      }
      for (const { group } of converted)
        assert.equal(log.engine.status().kinds.find((k) => k.group === group)?.state, "quarantined");
    } finally {
      await log.stop();
    }
  });
});
