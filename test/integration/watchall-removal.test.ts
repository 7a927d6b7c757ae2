/**
 * Removing a kind: its remaining objects arrive as DELETED, then KIND_REMOVED, and the engine sends no request for
 * the kind after that (counted per path by the engine's own transport), whether the CRD is deleted or stops serving.
 * A kind created again under the same name starts from scratch.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ClientEnv, clientEnv } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd, setCrdVersions } from "../support/crds.js";
import {
  type CountingTransport,
  countingTransportFor,
  EventLog,
  engineCluster,
  fastRetries,
  isObjectEvent,
  simpleCrd,
  uniqueGroup,
} from "../support/watchall.js";

/**
 * How long the engine is watched for requests after a removal. Informers retry every 50-400 ms here (fastRetries), so
 * a kind still being listed or watched would show several requests in this window; none is the proof.
 */
const quietMs = 1500;

describe("watch-all: kinds removed", () => {
  let env: ClientEnv;
  let transport: CountingTransport;
  const unserved = simpleCrd(uniqueGroup("warm-a"));
  const deleted = simpleCrd(uniqueGroup("warm-b"));

  before(async () => {
    env = await clientEnv("watchall-removal");
    transport = countingTransportFor(env.cluster.kubeconfigPath);
  });
  after(async () => {
    for (const spec of [unserved, deleted]) await deleteCrd(env.transport, spec);
    await transport.close();
    await env.close();
  });

  async function populate(spec: CrdSpec, names: readonly string[]): Promise<void> {
    await createCrd(env.transport, spec);
    const gizmos = env.client
      .resource({ group: spec.group, version: "v1", resource: "gizmos" })
      .namespace(env.namespace);
    for (const name of names) {
      await gizmos.create({ apiVersion: `${spec.group}/v1`, kind: "Gizmo", metadata: { name }, spec: { n: 1 } });
    }
  }

  /** Asserts that no request for `group` is sent for {@link quietMs}, failing at the first one. */
  async function assertQuiet(group: string): Promise<void> {
    const prefix = `/apis/${group}/`;
    const before = transport.count(prefix);
    for (const deadline = Date.now() + quietMs; Date.now() < deadline; ) {
      await new Promise((r) => setTimeout(r, 50));
      const after = transport.calls.filter((c) => c.path.startsWith(prefix)).slice(before);
      assert.deepEqual(after, [], `requests for ${group} after its removal`);
    }
  }

  it("delivers remaining objects as DELETED then KIND_REMOVED, and stops requesting the kind", async () => {
    await populate(unserved, ["a1", "a2"]);
    await populate(deleted, ["b1", "b2"]);
    const groups = [unserved.group, deleted.group];
    const log = EventLog.start(engineCluster(transport), { ...fastRetries, include: { groups } });
    try {
      for (const group of groups) await log.kindEvent(group, "KIND_SYNCED");
      for (const group of groups) assert.ok(transport.count(`/apis/${group}/`) > 0, "the kind was listed");

      // No version served: the kind is gone while its objects stay in etcd; the engine tells of them itself.
      await setCrdVersions(env.transport, unserved, [{ name: "v1", storage: true, served: false }]);
      const removed = await log.kindEvent(unserved.group, "KIND_REMOVED");
      assert.match((removed as { reason?: string }).reason ?? "", /CustomResourceDefinition/);
      for (const name of ["a1", "a2"]) {
        assert.deepEqual(log.object(unserved.group, name), ["ADDED initial", "DELETED live unknown"], name);
      }
      assert.deepEqual(log.kinds(unserved.group), ["KIND_ADDED v1", "KIND_SYNCED v1", "KIND_REMOVED v1"]);
      const lastDeleted = log.events.findLastIndex((e) => e.group === unserved.group && e.type === "DELETED");
      assert.ok(lastDeleted < log.events.indexOf(removed), "every DELETED comes before KIND_REMOVED");
      await assertQuiet(unserved.group);

      // The CRD deleted: the server deletes its objects first; whichever way each delete is learnt, it comes once, before KIND_REMOVED.
      await deleteCrd(env.transport, deleted);
      const gone = await log.kindEvent(deleted.group, "KIND_REMOVED");
      for (const name of ["b1", "b2"]) {
        const events = log.object(deleted.group, name);
        assert.equal(events[0], "ADDED initial");
        assert.equal(events.length, 2, `${name}: ${events.join("; ")}`);
        assert.match(events[1] ?? "", /^DELETED live/);
      }
      assert.ok(
        log.events.findLastIndex((e) => e.group === deleted.group && isObjectEvent(e)) < log.events.indexOf(gone),
      );
      await assertQuiet(deleted.group);
      assert.deepEqual(
        log.engine.status().kinds.filter((k) => groups.includes(k.group)),
        [],
        "the status no longer lists them",
      );

      // The same kind created anew: a new start, its objects as new.
      const from = log.events.length;
      await populate(deleted, ["b3"]);
      await log.next("the new kind synced", (e) => e.group === deleted.group && e.type === "KIND_SYNCED", { from });
      await log.next("b3", (e) => e.group === deleted.group && isObjectEvent(e) && e.name === "b3", { from });
      assert.deepEqual(
        log.events.slice(from).map((e) => (isObjectEvent(e) ? `${e.type} ${e.name}` : e.type)),
        // b3 is created after the CRD is Established: in the first list, or seen live just after it.
        log.events.slice(from)[1]?.type === "KIND_SYNCED"
          ? ["KIND_ADDED", "KIND_SYNCED", "ADDED b3"]
          : ["KIND_ADDED", "ADDED b3", "KIND_SYNCED"],
      );
    } finally {
      await log.stop();
    }
  });
});
