/**
 * A kube-apiserver restart in the middle changes none of the outcomes: on a cluster of its own (the restart would
 * disturb other test files), the engine survives a SIGKILL of the API server without a duplicate, a lost event, a
 * quarantine or a removal, and goes on following objects and CRDs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DynamicClient } from "../../src/client/resource.js";
import type { Transport } from "../../src/http/transport.js";
import { TestCluster } from "../../src/testing/index.js";
import { namespacesGvr } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import {
  EventLog,
  engineCluster,
  fastRetries,
  isObjectEvent,
  simpleCrd,
  transportFor,
  uniqueGroup,
} from "../support/watchall.js";

describe("watch-all: kube-apiserver restarted", () => {
  let cluster: TestCluster;
  let admin: Transport;
  let client: DynamicClient;
  let transport: Transport;
  const ns = "restart";
  const [a, b, c] = ["wars-a", "wars-b", "wars-c"].map((p) => simpleCrd(uniqueGroup(p))) as [CrdSpec, CrdSpec, CrdSpec];

  before(async () => {
    cluster = await TestCluster.start();
    admin = transportFor(cluster.kubeconfigPath);
    client = new DynamicClient(admin);
    transport = transportFor(cluster.kubeconfigPath);
    await client.resource(namespacesGvr).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  });
  after(async () => {
    await transport.close();
    await admin.close();
    await cluster.stop();
  });

  const gizmos = (spec: CrdSpec) =>
    client.resource({ group: spec.group, version: "v1", resource: "gizmos" }).namespace(ns);
  const create = (spec: CrdSpec, name: string) =>
    gizmos(spec).create({ apiVersion: `${spec.group}/v1`, kind: "Gizmo", metadata: { name }, spec: { n: 1 } });

  it("delivers every change exactly once across the restart and keeps following CRDs", async () => {
    for (const spec of [a, b]) await createCrd(admin, spec);
    await create(a, "a1");
    await create(a, "a2");
    await create(b, "b1");
    const groups = [a.group, b.group, c.group];
    const log = EventLog.start(engineCluster(transport), { ...fastRetries, include: { groups } });
    try {
      await log.kindEvent(a.group, "KIND_SYNCED");
      await log.kindEvent(b.group, "KIND_SYNCED");
      await gizmos(a).patch("a1", { spec: { n: 2 } }, "merge");
      await log.next("a1's update", (e) => isObjectEvent(e) && e.name === "a1" && e.type === "MODIFIED");

      await cluster.restartApiServer();

      // A new object per kind, seen once its watch is back (by a re-watch or, if need be, a relist).
      for (const spec of [a, b]) await create(spec, "probe");
      for (const spec of [a, b]) {
        await log.next(
          `the probe of ${spec.group}`,
          (e) => e.group === spec.group && isObjectEvent(e) && e.name === "probe",
        );
      }
      await gizmos(a).patch("a2", { spec: { n: 3 } }, "merge");
      await gizmos(a).delete("a1");
      await create(a, "a3");
      await createCrd(admin, c);
      await log.kindEvent(c.group, "KIND_SYNCED");
      await create(c, "c1");
      await deleteCrd(admin, b);
      await log.kindEvent(b.group, "KIND_REMOVED");
      await log.next("c1", (e) => e.group === c.group && isObjectEvent(e) && e.name === "c1");
      await log.next("a3", (e) => e.group === a.group && isObjectEvent(e) && e.name === "a3");

      assert.deepEqual(log.kinds(a.group), ["KIND_ADDED v1", "KIND_SYNCED v1"]);
      assert.deepEqual(log.kinds(b.group), ["KIND_ADDED v1", "KIND_SYNCED v1", "KIND_REMOVED v1"]);
      assert.deepEqual(log.kinds(c.group), ["KIND_ADDED v1", "KIND_SYNCED v1"]);
      assert.deepEqual(log.object(a.group, "a1"), ["ADDED initial", "MODIFIED live spec.n", "DELETED live"]);
      assert.deepEqual(log.object(a.group, "a2"), ["ADDED initial", "MODIFIED live spec.n"]);
      assert.deepEqual(log.object(a.group, "a3"), ["ADDED live"]);
      assert.deepEqual(log.object(c.group, "c1"), ["ADDED live"]);
      for (const spec of [a, b]) {
        assert.match(log.object(spec.group, "probe")[0] ?? "", /^ADDED (live|relist)$/);
      }
      assert.deepEqual(log.object(a.group, "probe").length, 1);
      const b1 = log.object(b.group, "b1");
      assert.equal(b1.length, 2, b1.join("; "));
      assert.match(b1[1] ?? "", /^DELETED/);
    } finally {
      await log.stop();
    }
  });
});
