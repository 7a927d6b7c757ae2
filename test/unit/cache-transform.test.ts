/**
 * keepFields: a per-kind allow-list that keeps listed paths and the object's identity, and drops managedFields. The
 * default transform, dropManagedFields: drops the field without costing the object its compact representation.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { dropManagedFields, Informer } from "../../src/cache/informer.js";
import { keepFields } from "../../src/cache/transform.js";
import type { KubeObject } from "../../src/object/types.js";
import { page, ScriptedListWatch } from "../support/listwatch.js";

function deployment(): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "web",
      namespace: "shop",
      uid: "u-1",
      resourceVersion: "42",
      generation: 3,
      labels: { app: "web", "app.kubernetes.io/name": "web" },
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{...}" },
      managedFields: [{ manager: "kubectl" }],
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "web" } },
      template: { spec: { containers: [{ name: "app", image: "web:1" }] } },
    },
    status: { readyReplicas: 2, conditions: [{ type: "Available", status: "True" }] },
  };
}

const identity = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web", namespace: "shop", uid: "u-1", resourceVersion: "42" },
};

describe("keepFields", () => {
  it("keeps the listed paths and the identity, nothing else", () => {
    const keep = keepFields(["spec.replicas", "status.readyReplicas", "metadata.labels"]);
    assert.deepEqual(keep(deployment()), {
      ...identity,
      metadata: { ...identity.metadata, labels: { app: "web", "app.kubernetes.io/name": "web" } },
      spec: { replicas: 3 },
      status: { readyReplicas: 2 },
    });
  });

  it("keeps an empty list as the identity alone", () => {
    assert.deepEqual(keepFields([])(deployment()), identity);
  });

  it("keeps a listed value whole, arrays included, and a whole parent over its listed children", () => {
    const keep = keepFields(["status.conditions", "spec", "spec.replicas"]);
    const d = deployment();
    const out = keep(d);
    assert.deepEqual(out.spec, d.spec);
    assert.deepEqual(out.status, { conditions: [{ type: "Available", status: "True" }] });
  });

  it("takes segments for keys that hold dots", () => {
    const keep = keepFields([["metadata", "labels", "app.kubernetes.io/name"]]);
    assert.deepEqual(keep(deployment()).metadata.labels, { "app.kubernetes.io/name": "web" });
  });

  it("keeps nothing for paths that are missing or go through an array or a scalar", () => {
    const keep = keepFields(["spec.template.spec.containers.image", "spec.replicas.value", "spec.paused"]);
    assert.deepEqual(keep(deployment()), identity);
  });

  it("drops managedFields from a whole metadata without changing the input, unless it is listed", () => {
    const d = deployment();
    const out = keepFields(["metadata"])(d);
    assert.equal("managedFields" in out.metadata, false);
    assert.equal(out.metadata.annotations?.["kubectl.kubernetes.io/last-applied-configuration"], "{...}");
    assert.deepEqual(d.metadata.managedFields, [{ manager: "kubectl" }], "the input keeps its own");
    assert.deepEqual(keepFields(["metadata.managedFields"])(deployment()).metadata.managedFields, [
      { manager: "kubectl" },
    ]);
  });

  it("keeps no identity field an object does not have (a cluster-scoped one has no namespace)", () => {
    const node: KubeObject = { apiVersion: "v1", kind: "Node", metadata: { name: "n1", uid: "u" }, spec: {} };
    assert.deepEqual(keepFields(["spec.unschedulable"])(node), {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "n1", uid: "u" },
    });
  });

  it("refuses a path with an empty segment, saying what a path looks like", () => {
    assert.throws(() => keepFields(["spec..replicas"]), /is not a field path; give e.g. "spec.replicas"/);
    assert.throws(() => keepFields([""]), /is not a field path/);
    assert.throws(() => keepFields([[]]), /is not a field path/);
  });

  it("shares nothing with the input that it did not keep whole", () => {
    const d = deployment();
    const out = keepFields(["spec.replicas"])(d);
    (out.spec as { replicas: number }).replicas = 9;
    assert.equal((d.spec as { replicas: number }).replicas, 3);
  });
});

setFlagsFromString("--allow-natives-syntax");
/** Whether V8 keeps `o` with fast properties (a hidden class) rather than as a hash table (dictionary mode). */
const hasFastProperties = new Function("o", "return %HasFastProperties(o)") as (o: object) => boolean;

/** A widget as the API server serves a custom resource: its metadata's keys sorted, `managedFields` among them. */
function servedWidget(name: string): KubeObject {
  return JSON.parse(
    JSON.stringify({
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: {
        annotations: { note: "kept" },
        creationTimestamp: "2026-12-02T11:39:12Z",
        generation: 1,
        labels: { app: "bench" },
        managedFields: [{ manager: "kubectl", operation: "Update", time: "2026-12-02T11:39:12Z" }],
        name,
        namespace: "ns",
        resourceVersion: "7",
        uid: `uid-of-${name}`,
      },
      spec: { replicas: 1 },
    }),
  ) as KubeObject;
}

describe("dropManagedFields", () => {
  it("drops managedFields and keeps every other field, in order", () => {
    const out = dropManagedFields(servedWidget("a"));
    const { managedFields: _, ...expected } = servedWidget("a").metadata;
    assert.deepEqual(out, { ...servedWidget("a"), metadata: expected });
    assert.deepEqual(Object.keys(out.metadata), Object.keys(expected));
    assert.equal("managedFields" in out.metadata, false);
  });

  it("leaves metadata compact when managedFields is not its last key, as in a custom resource", () => {
    assert.equal(hasFastProperties(servedWidget("a").metadata), true, "JSON.parse gives fast properties");
    assert.equal(hasFastProperties(dropManagedFields(servedWidget("a")).metadata), true);
  });

  it("leaves an object without managedFields as it is", () => {
    const o = servedWidget("a");
    const { managedFields: _, ...metadata } = o.metadata;
    o.metadata = metadata;
    assert.equal(dropManagedFields(o).metadata, metadata);
  });

  it("is what an informer stores by default: compact metadata without managedFields", async () => {
    const inf = new Informer(new ScriptedListWatch().replyToList(page("7", [servedWidget("a")])), {
      streamingList: false,
    });
    inf.start();
    try {
      await inf.synced(AbortSignal.timeout(3000));
      const stored = inf.store.get("ns/a");
      assert.equal(stored?.metadata.managedFields, undefined);
      assert.equal(stored?.metadata.annotations?.note, "kept");
      assert.equal(hasFastProperties(stored.metadata), true);
    } finally {
      await inf.stop();
    }
  });
});
