/**
 * The full control plane's garbage collector and namespace controller: dependents follow their owner in both
 * propagation orders, and a deleted namespace goes away with what it held.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isNotFound } from "../../src/index.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, configMap, configMapsGvr, namespacesGvr } from "../support/client.js";
import { fullClientEnv } from "../support/full.js";
import { uniqueName, waitFor } from "../support/wait.js";

/** A ConfigMap that the ConfigMap `owner` owns, with `finalizers`. */
function dependent(name: string, owner: KubeObject, finalizers: string[] = []): KubeObject {
  const { name: ownerName, uid } = owner.metadata;
  assert.ok(ownerName && uid, "a created object has a name and a uid");
  return {
    ...configMap(name),
    metadata: {
      name,
      finalizers,
      // Without blockOwnerDeletion, a foreground deletion does not wait for the dependent.
      ownerReferences: [{ apiVersion: "v1", kind: "ConfigMap", name: ownerName, uid, blockOwnerDeletion: true }],
    },
  };
}

async function gone(get: () => Promise<unknown>): Promise<boolean> {
  try {
    await get();
    return false;
  } catch (err) {
    if (isNotFound(err)) return true;
    throw err;
  }
}

describe("full control plane: garbage collection", () => {
  let env: ClientEnv;
  before(async () => {
    env = await fullClientEnv("full-gc");
  });
  after(() => env.close());

  it("deletes an owner's dependents after it, with background propagation", async () => {
    const cms = env.client.resource(configMapsGvr).namespace(env.namespace);
    const owner = await cms.create(configMap("bg-owner"));
    await cms.create(dependent("bg-dep-1", owner));
    await cms.create(dependent("bg-dep-2", owner));

    await cms.delete("bg-owner", { propagationPolicy: "Background" });
    assert.ok(await gone(() => cms.get("bg-owner")), "the owner goes at once");
    await waitFor("the dependents to be collected", async () => {
      return (await gone(() => cms.get("bg-dep-1"))) && (await gone(() => cms.get("bg-dep-2")));
    });
  });

  it("keeps an owner until its dependents are gone, with foreground propagation", async () => {
    const cms = env.client.resource(configMapsGvr).namespace(env.namespace);
    const owner = await cms.create(configMap("fg-owner"));
    await cms.create(dependent("fg-free", owner));
    // A finalizer of the test's own holds one dependent back, and with it the owner: the order becomes observable.
    const hold = "kindwatch.dev/hold";
    await cms.create(dependent("fg-held", owner, [hold]));

    await cms.delete("fg-owner", { propagationPolicy: "Foreground" });
    await waitFor("the free dependent to be collected while the owner waits", async () => {
      const waiting = await cms.get("fg-owner");
      const held = await cms.get("fg-held");
      return (
        (await gone(() => cms.get("fg-free"))) &&
        waiting.metadata.finalizers?.includes("foregroundDeletion") === true &&
        waiting.metadata.deletionTimestamp !== undefined &&
        held.metadata.deletionTimestamp !== undefined
      );
    });

    await cms.patch("fg-held", { metadata: { finalizers: null } }, "merge");
    await waitFor("the owner to go after its last dependent", async () => {
      return (await gone(() => cms.get("fg-held"))) && (await gone(() => cms.get("fg-owner")));
    });
  });

  it("removes a deleted namespace and what it held", async () => {
    const namespaces = env.client.resource(namespacesGvr);
    const name = uniqueName("full-ns");
    await namespaces.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    await env.client.resource(configMapsGvr).namespace(name).create(configMap("inside"));

    await namespaces.delete(name);
    await waitFor("the namespace to disappear", () => gone(() => namespaces.get(name)), { timeoutMs: 60_000 });
  });
});
