/**
 * Explicit acknowledgement (`acknowledge: "manual"`): the checkpoint takes only the prefix of the stream that the
 * consumer acknowledged, whatever the order of its acknowledgements, and what it did not acknowledge comes again after
 * a restart from the checkpoint.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Transport } from "../../src/http/transport.js";
import { readCheckpoint } from "../../src/watchall/checkpoint.js";
import type { ObjectEvent, WatchAllEvent } from "../../src/watchall/types.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
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

describe("watch-all: explicit acknowledgement", () => {
  let env: ClientEnv;
  let transport: Transport;
  let dir: string;
  const replayed = simpleCrd(uniqueGroup("waack-a"));
  const unordered = simpleCrd(uniqueGroup("waack-b"));

  before(async () => {
    env = await clientEnv("watchall-acknowledge");
    transport = transportFor(env.cluster.kubeconfigPath);
    dir = await mkdtemp(join(tmpdir(), "kindwatch-watchall-ack-"));
  });
  after(async () => {
    for (const spec of [replayed, unordered]) await deleteCrd(env.transport, spec);
    await transport.close();
    await env.close();
    await rm(dir, { recursive: true, force: true });
  });

  const gizmos = (spec: CrdSpec) =>
    env.client.resource({ group: spec.group, version: "v1", resource: "gizmos" }).namespace(env.namespace);
  const create = (spec: CrdSpec, name: string) =>
    gizmos(spec).create({ apiVersion: `${spec.group}/v1`, kind: "Gizmo", metadata: { name }, spec: { n: 1 } });
  const objectsIn = async (path: string, spec: CrdSpec) =>
    (await readCheckpoint(path))?.kinds[`gizmos.${spec.group}`]?.objects ?? {};
  const named = (name: string) => (e: WatchAllEvent) => isObjectEvent(e) && e.name === name;
  const asObject = (e: WatchAllEvent | undefined): ObjectEvent => {
    assert.ok(e && isObjectEvent(e), "an object event");
    return e;
  };

  it("delivers an unacknowledged event again after a restart from the checkpoint", async () => {
    const checkpoint = join(dir, "replayed.json");
    const options = {
      ...fastRetries,
      include: { groups: [replayed.group] },
      checkpoint,
      acknowledge: "manual" as const,
    };
    await createCrd(env.transport, replayed);
    for (const name of ["r1", "r2"]) await create(replayed, name);

    const first = EventLog.start(engineCluster(transport), options);
    await first.kindEvent(replayed.group, "KIND_SYNCED");
    for (const e of first.events) first.engine.acknowledge(e);
    const synced = first.events.length;
    await gizmos(replayed).patch("r1", { spec: { n: 2 } }, "merge");
    const r1 = asObject(await first.next("r1's update", named("r1"), { from: synced }));
    await first.stop();
    assert.equal(first.engine.unacknowledged, 1, "r1's update is the one left unacknowledged");
    const saved = await objectsIn(checkpoint, replayed);
    assert.deepEqual(Object.keys(saved).sort(), [`${env.namespace}/r1`, `${env.namespace}/r2`]);
    assert.notEqual(saved[`${env.namespace}/r1`]?.split(" ")[1], r1.resourceVersion, "r1's update is not in it");

    const second = EventLog.start(engineCluster(transport), options);
    try {
      await second.kindEvent(replayed.group, "KIND_SYNCED");
      assert.deepEqual(second.object(replayed.group, "r1"), ["MODIFIED relist"], "the unacknowledged update again");
      assert.deepEqual(second.object(replayed.group, "r2"), [], "r2 was acknowledged: not replayed");
      assert.equal(asObject(second.events.find(named("r1"))).resourceVersion, r1.resourceVersion, "the same change");
    } finally {
      await second.stop();
    }
  });

  it("never moves the checkpoint past an unacknowledged event, however the acknowledgements are ordered", async () => {
    const checkpoint = join(dir, "unordered.json");
    const options = {
      ...fastRetries,
      include: { groups: [unordered.group] },
      checkpoint,
      acknowledge: "manual" as const,
    };
    await createCrd(env.transport, unordered);
    for (const name of ["u1", "u2", "u3"]) await create(unordered, name);

    const log = EventLog.start(engineCluster(transport), options);
    let listed: Readonly<Record<string, string>> = {};
    try {
      await log.kindEvent(unordered.group, "KIND_SYNCED");
      const initial = [...log.events];
      // Every event but the first (KIND_ADDED), acknowledged last to first: the checkpoint holds nothing of the kind.
      for (const e of initial.slice(1).reverse()) log.engine.acknowledge(e);
      await log.engine.saveCheckpoint();
      assert.deepEqual((await readCheckpoint(checkpoint))?.kinds ?? {}, {}, "nothing before KIND_ADDED's ack");
      log.engine.acknowledge(initial[0] as WatchAllEvent);
      await log.engine.saveCheckpoint();
      listed = await objectsIn(checkpoint, unordered);
      assert.deepEqual(
        Object.keys(listed).sort(),
        ["u1", "u2", "u3"].map((n) => `${env.namespace}/${n}`),
      );

      // Live updates of u1, u2, u3 in this order; u1's is never acknowledged, u3's and u2's are (in that order).
      const from = log.events.length;
      for (const name of ["u1", "u2", "u3"]) {
        await gizmos(unordered).patch(name, { spec: { n: 2 } }, "merge");
        await log.next(`${name}'s update`, named(name), { from });
      }
      const updates = log.events.slice(from);
      for (const name of ["u3", "u2"]) log.engine.acknowledge(updates.find(named(name)) as WatchAllEvent);
      log.engine.acknowledge(updates.find(named("u3")) as WatchAllEvent);
      await log.engine.saveCheckpoint();
      assert.deepEqual(await objectsIn(checkpoint, unordered), listed, "u1's update holds back u2's and u3's");
      assert.equal(log.engine.unacknowledged, 1);
    } finally {
      await log.stop();
    }
    assert.deepEqual(await objectsIn(checkpoint, unordered), listed, "stopping saves no more than was acknowledged");
    const restarted = EventLog.start(engineCluster(transport), options);
    try {
      await restarted.kindEvent(unordered.group, "KIND_SYNCED");
      for (const name of ["u1", "u2", "u3"]) {
        assert.deepEqual(restarted.object(unordered.group, name), ["MODIFIED relist"], `${name} again`);
      }
    } finally {
      await restarted.stop();
    }
  });
});
