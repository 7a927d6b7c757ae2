/**
 * The watch-all engine follows CRDs created while it runs: 20 new kinds, each started once its CRD is Established, and
 * their objects created, updated and deleted; the merged stream holds exactly the expected events per object, in order.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Transport } from "../../src/http/transport.js";
import { type ClientEnv, clientEnv, inBatches } from "../support/client.js";
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

const kinds = 20;
const names = ["o1", "o2", "o3"];

describe("watch-all: CRDs created while running", () => {
  let env: ClientEnv;
  let engineTransport: Transport;
  const specs: CrdSpec[] = Array.from({ length: kinds }, (_, i) => simpleCrd(uniqueGroup(`wac${i}`)));

  before(async () => {
    env = await clientEnv("watchall-crds");
    engineTransport = transportFor(env.cluster.kubeconfigPath);
  });
  after(async () => {
    await inBatches(specs, 5, (spec) => deleteCrd(env.transport, spec));
    await engineTransport.close();
    await env.close();
  });

  it("starts each new kind once and streams its objects' adds, updates (with changed paths) and deletes in order", async () => {
    const groups = specs.map((s) => s.group);
    const log = EventLog.start(engineCluster(engineTransport), { ...fastRetries, include: { groups } });
    try {
      await inBatches(specs, 5, async (spec) => {
        await createCrd(env.transport, spec);
        await log.kindEvent(spec.group, "KIND_SYNCED");
        const gizmos = env.client.resource({ group: spec.group, version: "v1", resource: "gizmos" });
        const mine = gizmos.namespace(env.namespace);
        for (const name of names) {
          await mine.create({
            apiVersion: `${spec.group}/v1`,
            kind: "Gizmo",
            metadata: { name },
            spec: { n: 1, color: "red" },
          });
        }
        for (const name of names) await mine.patch(name, { spec: { n: 2 } }, "merge");
        await mine.patch("o1", { metadata: { labels: { tier: "gold" } } }, "merge");
        // Only bookkeeping changes (resourceVersion, managedFields): noise, left out of the stream.
        await mine.apply(
          { apiVersion: `${spec.group}/v1`, kind: "Gizmo", metadata: { name: "o2" }, spec: { color: "red" } },
          { fieldManager: "another-manager" },
        );
        for (const name of names) await mine.delete(name);
      });
      await Promise.all(
        specs.map((spec) =>
          log.next(
            `the last delete of ${spec.group}`,
            (e) => e.group === spec.group && isObjectEvent(e) && e.name === "o3" && e.type === "DELETED",
          ),
        ),
      );

      for (const { group } of specs) {
        assert.deepEqual(log.kinds(group), ["KIND_ADDED v1", "KIND_SYNCED v1"], group);
        const synced = log.events.findIndex((e) => e.group === group && e.type === "KIND_SYNCED");
        const firstObject = log.events.findIndex((e) => e.group === group && isObjectEvent(e));
        assert.ok(synced < firstObject, `${group}: KIND_SYNCED before its objects`);
        assert.deepEqual(log.object(group, "o1"), [
          "ADDED live",
          "MODIFIED live spec.n",
          "MODIFIED live metadata.labels",
          "DELETED live",
        ]);
        for (const name of ["o2", "o3"]) {
          assert.deepEqual(log.object(group, name), ["ADDED live", "MODIFIED live spec.n", "DELETED live"], name);
        }
        const added = log.of(group).find((e) => e.type === "ADDED");
        assert.ok(added && isObjectEvent(added));
        assert.deepEqual(
          { version: added.version, kind: added.kind, resource: added.resource, namespace: added.namespace },
          { version: "v1", kind: "Gizmo", resource: "gizmos", namespace: env.namespace },
        );
        assert.equal((added.object.spec as { n?: number }).n, 1);
      }
      assert.deepEqual(
        log.events.filter((e) => !groups.includes(e.group)),
        [],
        "nothing outside the included groups",
      );
      const status = log.engine.status();
      assert.equal(status.watched, kinds);
      assert.equal(status.synced, kinds);
      assert.equal(status.quarantined, 0);
      assert.equal(status.objects, 0);
      assert.ok(
        status.kinds.every((k) => k.resourceVersion),
        "each kind reports its last resourceVersion",
      );
    } finally {
      await log.stop();
    }
  });
});
