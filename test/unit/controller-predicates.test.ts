/** Predicates and the request keys of the reconcile loop: pure functions over objects. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { annotationsChanged, anyOf, generationChanged, labelsChanged } from "../../src/controller/predicates.js";
import { PermanentError, requestKey, requestOf, requeueAfter } from "../../src/controller/result.js";
import type { KubeObject, ObjectMeta } from "../../src/object/types.js";

const obj = (metadata: ObjectMeta): KubeObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata });

describe("controller predicates", () => {
  const base = obj({ name: "a", generation: 1, labels: { app: "x" }, annotations: { note: "1" } });

  it("generationChanged passes a new generation, creates and deletes, not a status or metadata change", () => {
    assert.equal(generationChanged(base, obj({ ...base.metadata, generation: 2 })), true);
    assert.equal(generationChanged(base, obj({ ...base.metadata, labels: { app: "y" } })), false);
    assert.equal(generationChanged(undefined, base), true);
    assert.equal(generationChanged(base, undefined), true);
  });

  it("labelsChanged and annotationsChanged compare contents, not identity or order", () => {
    assert.equal(labelsChanged(base, obj({ ...base.metadata, labels: { app: "x" } })), false);
    assert.equal(labelsChanged(base, obj({ ...base.metadata, labels: { app: "x", tier: "web" } })), true);
    assert.equal(labelsChanged(base, obj({ ...base.metadata, labels: undefined })), true);
    assert.equal(labelsChanged(obj({ name: "a" }), obj({ name: "a", labels: {} })), false);
    assert.equal(annotationsChanged(base, obj({ ...base.metadata, annotations: { note: "2" } })), true);
    assert.equal(annotationsChanged(base, obj({ ...base.metadata, generation: 5 })), false);
  });

  it("anyOf passes what one of its predicates passes", () => {
    const either = anyOf(generationChanged, labelsChanged);
    assert.equal(either(base, obj({ ...base.metadata, labels: { app: "y" } })), true);
    assert.equal(either(base, obj({ ...base.metadata, annotations: { note: "2" } })), false);
  });
});

describe("controller requests and results", () => {
  it("keys a request as namespace/name, or name alone for a cluster-scoped kind, and back", () => {
    assert.equal(requestKey({ namespace: "ns", name: "a" }), "ns/a");
    assert.equal(requestKey({ name: "node-1" }), "node-1");
    assert.deepEqual(requestOf("ns/a"), { namespace: "ns", name: "a" });
    assert.deepEqual(requestOf("node-1"), { name: "node-1" });
  });

  it("refuses a negative requeueAfter, and gives a PermanentError a default reason", () => {
    assert.throws(() => requeueAfter(-1), RangeError);
    assert.deepEqual(requeueAfter(0), { requeue: true, afterMs: 0 });
    assert.equal(new PermanentError("bad").reason, "ReconcileFailed");
    assert.equal(new PermanentError("bad", { reason: "InvalidSize" }).reason, "InvalidSize");
  });
});
