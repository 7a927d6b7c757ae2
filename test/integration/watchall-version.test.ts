/**
 * A new preferred version moves the watch: KIND_VERSION_CHANGED, no replay of unchanged objects, and later changes
 * arrive at the new version; a version served no more moves it back.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Transport } from "../../src/http/transport.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import { createCrd, deleteCrd, setCrdVersions } from "../support/crds.js";
import {
  EventLog,
  engineCluster,
  fastRetries,
  isObjectEvent,
  simpleCrd,
  transportFor,
  uniqueGroup,
} from "../support/watchall.js";

describe("watch-all: preferred version changes", () => {
  let env: ClientEnv;
  let transport: Transport;
  const spec = simpleCrd(uniqueGroup("wav"));
  const { group } = spec;

  before(async () => {
    env = await clientEnv("watchall-version");
    transport = transportFor(env.cluster.kubeconfigPath);
  });
  after(async () => {
    await deleteCrd(env.transport, spec);
    await transport.close();
    await env.close();
  });

  const at = (version: string) => env.client.resource({ group, version, resource: "gizmos" }).namespace(env.namespace);

  it("moves the watch to the new version without replaying unchanged objects", async () => {
    await createCrd(env.transport, spec);
    for (const name of ["a", "b", "c"]) {
      await at("v1").create({ apiVersion: `${group}/v1`, kind: "Gizmo", metadata: { name }, spec: { n: 1 } });
    }
    const log = EventLog.start(engineCluster(transport), { ...fastRetries, include: { groups: [group] } });
    try {
      await log.kindEvent(group, "KIND_SYNCED");
      await at("v1").patch("a", { spec: { n: 2 } }, "merge");
      await log.next("a's update", (e) => isObjectEvent(e) && e.name === "a" && e.type === "MODIFIED");

      await setCrdVersions(env.transport, spec, [{ name: "v1", storage: true }, { name: "v2" }]);
      const moved = await log.kindEvent(group, "KIND_VERSION_CHANGED");
      assert.deepEqual(
        { version: moved.version, previousVersion: (moved as { previousVersion?: string }).previousVersion },
        { version: "v2", previousVersion: "v1" },
      );
      const movedAt = log.events.indexOf(moved);

      await at("v2").patch("b", { spec: { n: 3 } }, "merge");
      await at("v2").delete("c");
      await at("v2").create({ apiVersion: `${group}/v2`, kind: "Gizmo", metadata: { name: "d" }, spec: { n: 1 } });
      await log.next("d", (e) => isObjectEvent(e) && e.name === "d");

      assert.deepEqual(log.kinds(group), ["KIND_ADDED v1", "KIND_SYNCED v1", "KIND_VERSION_CHANGED v2"]);
      assert.deepEqual(log.object(group, "a"), ["ADDED initial", "MODIFIED live spec.n"], "a: nothing replayed");
      assert.deepEqual(log.object(group, "b"), ["ADDED initial", "MODIFIED live spec.n"]);
      assert.deepEqual(log.object(group, "c"), ["ADDED initial", "DELETED live"]);
      assert.deepEqual(log.object(group, "d"), ["ADDED live"]);
      for (const e of log.events.slice(movedAt + 1)) {
        assert.ok(isObjectEvent(e));
        assert.equal(e.version, "v2", `${e.type} ${e.name} at the new version`);
        if (e.type !== "DELETED") assert.equal(e.object.apiVersion, `${group}/v2`);
      }
      assert.equal(log.engine.status().kinds[0]?.version, "v2");

      // v2 served no more: back to v1, again without a replay.
      await setCrdVersions(env.transport, spec, [
        { name: "v1", storage: true },
        { name: "v2", served: false },
      ]);
      const back = await log.next("the move back", (e) => e.type === "KIND_VERSION_CHANGED" && e.version === "v1", {
        from: movedAt + 1,
      });
      await at("v1").patch("d", { spec: { n: 9 } }, "merge");
      const dUpdate = await log.next(
        "d's update at v1",
        (e) => isObjectEvent(e) && e.name === "d" && e.type === "MODIFIED",
      );
      assert.equal(dUpdate.version, "v1");
      assert.deepEqual(
        log.events.slice(log.events.indexOf(back) + 1).map((e) => (isObjectEvent(e) ? `${e.type} ${e.name}` : e.type)),
        ["MODIFIED d"],
      );
    } finally {
      await log.stop();
    }
  });
});
