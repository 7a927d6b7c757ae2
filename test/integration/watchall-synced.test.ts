/**
 * `WatchAll.synced()` against the real server: it resolves once the consumer has taken the initial objects of every
 * kind that existed when the engine started, and rejects when the engine stops first.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Transport } from "../../src/http/transport.js";
import { WatchAll } from "../../src/watchall/engine.js";
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

describe("watch-all: synced()", () => {
  let env: ClientEnv;
  let engineTransport: Transport;
  const specs: CrdSpec[] = [simpleCrd(uniqueGroup("wasa")), simpleCrd(uniqueGroup("wasb"))];
  const names = ["o1", "o2", "o3"];

  before(async () => {
    env = await clientEnv("watchall-synced");
    engineTransport = transportFor(env.cluster.kubeconfigPath);
    for (const spec of specs) {
      await createCrd(env.transport, spec);
      const gizmos = env.client.resource({ group: spec.group, version: "v1", resource: "gizmos" });
      for (const name of names) {
        await gizmos
          .namespace(env.namespace)
          .create({ apiVersion: `${spec.group}/v1`, kind: "Gizmo", metadata: { name } });
      }
    }
  });
  after(async () => {
    for (const spec of specs) await deleteCrd(env.transport, spec);
    await engineTransport.close();
    await env.close();
  });

  it("resolves once the consumer has taken the initial objects of every kind found at the start", async () => {
    const groups = specs.map((s) => s.group);
    const log = EventLog.start(engineCluster(engineTransport), { ...fastRetries, include: { groups } });
    try {
      await log.engine.synced();
      const seen = log.events
        .filter(isObjectEvent)
        .map((e) => `${e.group} ${e.name}`)
        .sort();
      assert.deepEqual(seen, groups.flatMap((g) => names.map((n) => `${g} ${n}`)).sort());
    } finally {
      await log.stop();
    }
  });

  it("rejects when the engine stops before it has synced", async () => {
    const engine = new WatchAll(engineCluster(engineTransport), { include: { groups: [specs[0]?.group ?? ""] } });
    await engine.stop();
    await assert.rejects(engine.synced(), /stopped before its initial sync/);
  });
});
