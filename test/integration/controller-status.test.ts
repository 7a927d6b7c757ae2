/** setStatus against the real server: conditions and observedGeneration, no write when unchanged, conflicts, no /status. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { GroupVersionResource } from "../../src/client/gvr.js";
import { ResourceClient } from "../../src/client/resource.js";
import { setStatus } from "../../src/controller/status.js";
import { getCondition, getConditions } from "../../src/object/conditions.js";
import type { KubeObject } from "../../src/object/types.js";
import { type Client, type ClientEnv, clientEnv } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { rejectsWith } from "../support/failure.js";
import { uniqueName, waitFor } from "../support/wait.js";
import { type CountingTransport, countingTransportFor } from "../support/watchall.js";

const fixedClock = (iso: string) => () => new Date(iso);
const ready = { type: "Ready", status: "True", reason: "Configured", message: "all set" } as const;

describe("setStatus", () => {
  let env: ClientEnv;
  let counting: CountingTransport;
  const group = `${uniqueName("status")}.kindwatch.dev`;
  // One kind with the status subresource, one without; both keep whatever fields they are given.
  const withSub: CrdSpec = {
    group,
    kind: "Gadget",
    plural: "gadgets",
    versions: [{ name: "v1", storage: true, subresources: { status: {} } }],
  };
  const withoutSub: CrdSpec = { group, kind: "Gizmo", plural: "gizmos", versions: [{ name: "v1", storage: true }] };
  const gvr = (plural: string): GroupVersionResource => ({ group, version: "v1", resource: plural });
  let gadgets: Client;
  let gizmos: Client;
  let countedGadgets: Client;
  let countedGizmos: Client;
  const object = (kind: string, name: string): KubeObject => ({
    apiVersion: `${group}/v1`,
    kind,
    metadata: { name },
    spec: { size: 1 },
  });
  const writes = () => counting.calls.filter((c) => c.method !== "GET");

  before(async () => {
    env = await clientEnv("ctrl-status");
    for (const spec of [withSub, withoutSub]) {
      await createCrd(env.transport, spec);
      const client = env.client.resource(gvr(spec.plural));
      await waitFor(`${spec.plural} to be served`, async () => (await client.list({ limit: 1 })) !== undefined);
    }
    gadgets = env.client.resource(gvr("gadgets")).namespace(env.namespace);
    gizmos = env.client.resource(gvr("gizmos")).namespace(env.namespace);
    counting = countingTransportFor(env.cluster.kubeconfigPath);
    countedGadgets = new ResourceClient<KubeObject>(counting, gvr("gadgets")).namespace(env.namespace);
    countedGizmos = new ResourceClient<KubeObject>(counting, gvr("gizmos")).namespace(env.namespace);
  });

  after(async () => {
    await deleteCrd(env.transport, withSub).catch(() => {});
    await deleteCrd(env.transport, withoutSub).catch(() => {});
    await counting?.close();
    await env?.close();
  });

  it("writes conditions and observedGeneration through /status, and nothing when called again", async () => {
    const created = await gadgets.create(object("Gadget", "g1"));
    const start = counting.calls.length;
    const written = await setStatus(
      countedGadgets,
      created,
      { conditions: [ready] },
      { now: fixedClock("2026-01-01T00:00:00Z") },
    );
    assert.deepEqual(
      counting.calls.slice(start).map((c) => `${c.method} ${c.path.split("/").slice(-2).join("/")}`),
      ["PATCH g1/status"],
    );
    const server = await gadgets.get("g1");
    assert.equal((server.status as { observedGeneration?: number }).observedGeneration, 1);
    assert.deepEqual(getCondition(server, "Ready"), {
      type: "Ready",
      status: "True",
      reason: "Configured",
      message: "all set",
      observedGeneration: 1,
      lastTransitionTime: "2026-01-01T00:00:00Z",
    });
    assert.equal(written.metadata.resourceVersion, server.metadata.resourceVersion);

    // The same status again, on the written object and on a fresh read (a later clock changes nothing): no request.
    const quiet = counting.calls.length;
    const later = { now: fixedClock("2026-06-01T00:00:00Z") };
    assert.equal(await setStatus(countedGadgets, written, { conditions: [ready] }, later), written);
    await setStatus(countedGadgets, await gadgets.get("g1"), { conditions: [ready] }, later);
    assert.equal(counting.calls.length, quiet, "nothing changed: no request");
    assert.equal((await gadgets.get("g1")).metadata.resourceVersion, server.metadata.resourceVersion);
  });

  it("moves observedGeneration with the spec and keeps lastTransitionTime while the status holds", async () => {
    await gadgets.create(object("Gadget", "g2"));
    await setStatus(
      gadgets,
      await gadgets.get("g2"),
      { conditions: [ready] },
      { now: fixedClock("2026-01-01T00:00:00Z") },
    );
    await gadgets.patch("g2", { spec: { size: 2 } }, "merge");
    const bumped = await gadgets.get("g2");
    assert.equal(bumped.metadata.generation, 2);
    const written = await setStatus(
      gadgets,
      bumped,
      { conditions: [ready] },
      { now: fixedClock("2026-02-02T00:00:00Z") },
    );
    assert.equal((written.status as { observedGeneration?: number }).observedGeneration, 2);
    assert.equal(getCondition(written, "Ready")?.observedGeneration, 2);
    assert.equal(getCondition(written, "Ready")?.lastTransitionTime, "2026-01-01T00:00:00Z");
    const failed = await setStatus(gadgets, written, {
      conditions: [{ type: "Ready", status: "False", reason: "Broken" }],
      edit: (obj) => {
        (obj.status as Record<string, unknown>).phase = "Failed";
      },
    });
    assert.equal(getCondition(failed, "Ready")?.status, "False");
    assert.equal(getCondition(failed, "Ready")?.message, undefined);
    assert.notEqual(getCondition(failed, "Ready")?.lastTransitionTime, "2026-01-01T00:00:00Z");
    assert.equal((failed.status as { phase?: string }).phase, "Failed");
  });

  it("retries a Conflict on a fresh read and keeps what another writer set meanwhile", async () => {
    const stale = await gadgets.create(object("Gadget", "g3"));
    // Another writer adds a condition of its own: a patch of the stale list would drop it.
    const synced = { type: "Synced", status: "True", reason: "Pulled", lastTransitionTime: "2026-01-01T00:00:00Z" };
    await gadgets.patchStatus("g3", { status: { phase: "Warming", conditions: [synced] } }, "merge");
    const before = writes().length;
    const written = await setStatus(countedGadgets, stale, { conditions: [ready] });
    assert.equal(writes().length - before, 2, "the first patch met a Conflict, the second went through");
    const server = await gadgets.get("g3");
    assert.equal(server.metadata.resourceVersion, written.metadata.resourceVersion);
    assert.equal((server.status as { phase?: string }).phase, "Warming");
    assert.deepEqual(
      getConditions(server).map((c) => c.type),
      ["Synced", "Ready"],
    );
  });

  it("after a Conflict with a newer spec, stamps the generation the reconcile saw, not the newer one", async () => {
    const seen = await gadgets.create(object("Gadget", "stale-gen"));
    assert.equal(seen.metadata.generation, 1);
    // The spec moves on while the reconcile of generation 1 works: its status write meets a Conflict.
    await gadgets.patch("stale-gen", { spec: { size: 5 } }, "merge");
    const written = await setStatus(gadgets, seen, { conditions: [ready] });
    assert.equal(written.metadata.generation, 2, "the write went to the newer object");
    assert.equal((written.status as { observedGeneration?: number }).observedGeneration, 1);
    assert.equal(getCondition(written, "Ready")?.observedGeneration, 1);
  });

  it("writes the object itself for a kind without the status subresource, once found out by a 404 on /status", async () => {
    const first = await gizmos.create(object("Gizmo", "z1"));
    const start = counting.calls.length;
    await setStatus(countedGizmos, first, { conditions: [ready] });
    assert.deepEqual(
      counting.calls.slice(start).map((c) => `${c.method} ${c.path.split("/").slice(-2).join("/")}`),
      ["PATCH z1/status", "GET gizmos/z1", "PATCH gizmos/z1"],
    );
    const server = await gizmos.get("z1");
    assert.equal(getCondition(server, "Ready")?.status, "True");
    assert.equal((server.status as { observedGeneration?: number }).observedGeneration, 1);

    // Learned for the resource: the next object's status goes straight to the object.
    const second = await gizmos.create(object("Gizmo", "z2"));
    const next = counting.calls.length;
    await setStatus(countedGizmos, second, { conditions: [ready] });
    assert.deepEqual(
      counting.calls.slice(next).map((c) => `${c.method} ${c.path.split("/").slice(-2).join("/")}`),
      ["PATCH gizmos/z2"],
    );
    assert.equal(getCondition(await gizmos.get("z2"), "Ready")?.status, "True");
  });

  it("says NotFound for an object that is gone, with or without the subresource", async () => {
    const gone = await gizmos.create(object("Gizmo", "z3"));
    await gizmos.delete("z3");
    await rejectsWith(setStatus(gizmos, gone, { conditions: [ready] }, { subresource: undefined }), "NotFound");
    const goneGadget = await gadgets.create(object("Gadget", "g4"));
    await gadgets.delete("g4");
    await rejectsWith(setStatus(gadgets, goneGadget, { conditions: [ready] }), "NotFound");
  });
});
