/**
 * Resuming from a checkpoint: a consumer restarted from its checkpoint file is not told of unchanged objects again,
 * and is told of what changed while it was stopped: updates, deletes, new objects, a kind gone, a kind new. An event
 * whose handler threw was not handled: it comes again.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Transport } from "../../src/http/transport.js";
import { readCheckpoint } from "../../src/watchall/checkpoint.js";
import { WatchAll } from "../../src/watchall/engine.js";
import type { WatchAllEvent } from "../../src/watchall/types.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { waitFor } from "../support/wait.js";
import {
  EventLog,
  engineCluster,
  fastRetries,
  isObjectEvent,
  simpleCrd,
  transportFor,
  uniqueGroup,
} from "../support/watchall.js";

describe("watch-all: resuming from a checkpoint", () => {
  let env: ClientEnv;
  let transport: Transport;
  let dir: string;
  const kept = simpleCrd(uniqueGroup("wacp-a"));
  const dropped = simpleCrd(uniqueGroup("wacp-b"));
  const added = simpleCrd(uniqueGroup("wacp-c"));
  const failing = simpleCrd(uniqueGroup("wacp-d"));
  const groups = [kept.group, dropped.group, added.group];

  before(async () => {
    env = await clientEnv("watchall-checkpoint");
    transport = transportFor(env.cluster.kubeconfigPath);
    dir = await mkdtemp(join(tmpdir(), "kindwatch-watchall-"));
  });
  after(async () => {
    for (const spec of [kept, dropped, added, failing]) await deleteCrd(env.transport, spec);
    await transport.close();
    await env.close();
    await rm(dir, { recursive: true, force: true });
  });

  const gizmos = (spec: CrdSpec) =>
    env.client.resource({ group: spec.group, version: "v1", resource: "gizmos" }).namespace(env.namespace);
  const create = (spec: CrdSpec, name: string) =>
    gizmos(spec).create({ apiVersion: `${spec.group}/v1`, kind: "Gizmo", metadata: { name }, spec: { n: 1 } });

  it("tells a restarted consumer only what changed while it was stopped", async () => {
    const checkpoint = join(dir, "watchall.json");
    const options = { ...fastRetries, include: { groups }, checkpoint, checkpointEveryMs: 200 };
    for (const spec of [kept, dropped]) await createCrd(env.transport, spec);
    for (const name of ["a1", "a2", "a3"]) await create(kept, name);
    await create(dropped, "b1");

    const first = EventLog.start(engineCluster(transport), options);
    await first.kindEvent(kept.group, "KIND_SYNCED");
    await first.kindEvent(dropped.group, "KIND_SYNCED");
    await gizmos(kept).patch("a1", { spec: { n: 2 } }, "merge");
    await first.next("a1's update", (e) => isObjectEvent(e) && e.name === "a1" && e.type === "MODIFIED");
    await first.stop();
    const saved = await readCheckpoint(checkpoint);
    assert.deepEqual(
      Object.keys(saved?.kinds ?? {}).sort(),
      [`gizmos.${dropped.group}`, `gizmos.${kept.group}`].sort(),
    );
    assert.deepEqual(Object.keys(saved?.kinds[`gizmos.${kept.group}`]?.objects ?? {}).sort(), [
      `${env.namespace}/a1`,
      `${env.namespace}/a2`,
      `${env.namespace}/a3`,
    ]);

    // While no one watches: an update, a delete, a new object, a kind gone (with its object), a kind new.
    await gizmos(kept).patch("a2", { spec: { n: 2 } }, "merge");
    await gizmos(kept).delete("a3");
    await create(kept, "a4");
    await deleteCrd(env.transport, dropped);
    await createCrd(env.transport, added);
    await create(added, "c1");

    const second = EventLog.start(engineCluster(transport), options);
    try {
      await second.kindEvent(kept.group, "KIND_SYNCED");
      await second.kindEvent(dropped.group, "KIND_REMOVED");
      await second.kindEvent(added.group, "KIND_SYNCED");
      assert.deepEqual(second.object(kept.group, "a1"), [], "a1 is unchanged: not replayed");
      assert.deepEqual(second.object(kept.group, "a2"), ["MODIFIED relist"]);
      assert.deepEqual(second.object(kept.group, "a3"), ["DELETED relist unknown"]);
      assert.deepEqual(second.object(kept.group, "a4"), ["ADDED relist"]);
      assert.deepEqual(second.kinds(kept.group), ["KIND_ADDED v1", "KIND_SYNCED v1"]);
      assert.deepEqual(second.object(dropped.group, "b1"), ["DELETED relist unknown"]);
      assert.deepEqual(second.kinds(dropped.group), ["KIND_REMOVED v1"]);
      assert.deepEqual(second.object(added.group, "c1"), ["ADDED initial"]);
      const synced = second.events.findIndex((e) => e.group === kept.group && e.type === "KIND_SYNCED");
      assert.ok(
        second.events.findLastIndex((e) => e.group === kept.group && isObjectEvent(e)) < synced,
        "the differences come before KIND_SYNCED",
      );

      await gizmos(kept).patch("a4", { spec: { n: 5 } }, "merge");
      await second.next("a4's live update", (e) => isObjectEvent(e) && e.name === "a4" && e.origin === "live");
    } finally {
      await second.stop();
    }

    // Nothing changed since: a third run is told of no object at all.
    const third = EventLog.start(engineCluster(transport), options);
    try {
      await third.kindEvent(kept.group, "KIND_SYNCED");
      await third.kindEvent(added.group, "KIND_SYNCED");
      assert.deepEqual(third.events.filter(isObjectEvent), [], "no object replayed");
      assert.deepEqual(third.kinds(dropped.group), [], "the removed kind was forgotten");
    } finally {
      await third.stop();
    }
  });

  it("a consumer that throws has not handled its event: it comes again after a restart", async () => {
    const checkpoint = join(dir, "failing.json");
    const options = { ...fastRetries, include: { groups: [failing.group] }, checkpoint, checkpointEveryMs: 200 };
    await createCrd(env.transport, failing);
    for (const name of ["f1", "f2"]) await create(failing, name);

    const engine = new WatchAll(engineCluster(transport), options);
    void engine.start();
    const seen: WatchAllEvent[] = [];
    const failure = new Error("the handler failed");
    const consumer = (async () => {
      for await (const e of engine) {
        seen.push(e);
        if (isObjectEvent(e) && e.name === "f1" && e.type === "MODIFIED") throw failure;
      }
    })();
    // Expected before the patch: its event may reach the consumer, which then throws, before the patch's answer does.
    const rejected = assert.rejects(consumer, failure);
    await waitFor("the kind synced", () => seen.some((e) => e.type === "KIND_SYNCED"));
    const patched = await gizmos(failing).patch("f1", { spec: { n: 2 } }, "merge");
    await rejected;
    await engine.stop();
    const saved = await readCheckpoint(checkpoint);
    const objects = saved?.kinds[`gizmos.${failing.group}`]?.objects ?? {};
    assert.deepEqual(Object.keys(objects).sort(), [`${env.namespace}/f1`, `${env.namespace}/f2`]);
    assert.notEqual(
      objects[`${env.namespace}/f1`]?.split(" ")[1],
      patched.metadata.resourceVersion,
      "the update the handler failed on is not saved as handled",
    );

    const second = EventLog.start(engineCluster(transport), options);
    try {
      await second.kindEvent(failing.group, "KIND_SYNCED");
      assert.deepEqual(second.object(failing.group, "f1"), ["MODIFIED relist"], "the failed event comes again");
      assert.deepEqual(second.object(failing.group, "f2"), [], "a handled one does not");
      const again = second.events.find((e) => isObjectEvent(e) && e.name === "f1");
      assert.equal(again && isObjectEvent(again) ? again.resourceVersion : undefined, patched.metadata.resourceVersion);
    } finally {
      await second.stop();
    }
  });
});
