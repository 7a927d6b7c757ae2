import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { meta } from "../../src/object/index.js";

const deployment = () =>
  JSON.parse(`{
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {
      "name": "web", "namespace": "shop", "uid": "0b9c-11", "resourceVersion": "4711", "generation": 7,
      "creationTimestamp": "2026-11-25T10:00:00Z",
      "labels": { "app": "web", "broken": 5 },
      "annotations": { "note": "hi" },
      "finalizers": ["kindwatch.dev/cleanup", 3, "other"],
      "ownerReferences": [
        { "apiVersion": "v1", "kind": "ConfigMap", "name": "cfg", "uid": "u1" },
        { "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u2", "controller": true, "blockOwnerDeletion": true },
        { "apiVersion": "v1", "kind": "Broken", "name": "no-uid" },
        "junk"
      ]
    }
  }`);

describe("metadata readers", () => {
  it("read the scalar fields", () => {
    const obj = deployment();
    assert.equal(meta.name(obj), "web");
    assert.equal(meta.namespace(obj), "shop");
    assert.equal(meta.uid(obj), "0b9c-11");
    assert.equal(meta.resourceVersion(obj), "4711");
    assert.equal(meta.generation(obj), 7);
    assert.equal(meta.creationTimestamp(obj), "2026-11-25T10:00:00Z");
    assert.equal(meta.deletionTimestamp(obj), undefined);
    assert.equal(meta.isBeingDeleted(obj), false);
  });

  it("return undefined for absent or mistyped fields", () => {
    const obj = { metadata: { name: 1, namespace: null, generation: 1.5, resourceVersion: 4711, uid: {} } };
    assert.equal(meta.name(obj), undefined);
    assert.equal(meta.namespace(obj), undefined);
    assert.equal(meta.generation(obj), undefined);
    assert.equal(meta.resourceVersion(obj), undefined);
    assert.equal(meta.uid(obj), undefined);
    assert.equal(meta.name({}), undefined);
    assert.equal(meta.generation({ metadata: { generation: "7" } }), undefined);
  });

  it("isBeingDeleted follows the deletion timestamp", () => {
    const obj = deployment();
    obj.metadata.deletionTimestamp = "2026-11-25T11:00:00Z";
    assert.equal(meta.deletionTimestamp(obj), "2026-11-25T11:00:00Z");
    assert.equal(meta.isBeingDeleted(obj), true);
  });

  it("labels and annotations are fresh copies without non-string values", () => {
    const obj = deployment();
    const labels = meta.labels(obj);
    assert.deepEqual(labels, { app: "web" });
    labels.app = "changed";
    assert.equal(obj.metadata.labels.app, "web");
    assert.deepEqual(meta.annotations(obj), { note: "hi" });
    assert.deepEqual(meta.labels({ metadata: { labels: ["app"] } }), {});
    assert.deepEqual(meta.annotations({}), {});
  });

  it("finalizers are a fresh copy of the string entries", () => {
    const obj = deployment();
    const list = meta.finalizers(obj);
    assert.deepEqual(list, ["kindwatch.dev/cleanup", "other"]);
    list.push("x");
    assert.equal(obj.metadata.finalizers.length, 3);
    assert.deepEqual(meta.finalizers({ metadata: { finalizers: "kindwatch.dev/cleanup" } }), []);
    assert.equal(meta.hasFinalizer(obj, "other"), true);
    assert.equal(meta.hasFinalizer(obj, "missing"), false);
  });

  it("ownerReferences keeps the well-formed entries, controllerOf picks the controller", () => {
    const obj = deployment();
    assert.deepEqual(meta.ownerReferences(obj), [
      { apiVersion: "v1", kind: "ConfigMap", name: "cfg", uid: "u1" },
      { apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: "u2", controller: true, blockOwnerDeletion: true },
    ]);
    assert.deepEqual(meta.controllerOf(obj), {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      name: "rs",
      uid: "u2",
      controller: true,
      blockOwnerDeletion: true,
    });
    obj.metadata.ownerReferences[1].controller = "true";
    assert.equal(meta.controllerOf(obj), undefined);
    assert.deepEqual(meta.ownerReferences({ metadata: { ownerReferences: {} } }), []);
  });
});

describe("label and annotation editors", () => {
  it("setLabels creates metadata when absent and stores a copy", () => {
    const obj: Record<string, unknown> = { kind: "ConfigMap" };
    const labels = { app: "web" };
    assert.deepEqual(meta.setLabels(obj, labels), { ok: true, changed: true });
    labels.app = "mutated";
    assert.deepEqual(obj, { kind: "ConfigMap", metadata: { labels: { app: "web" } } });
  });

  it("setLabels reports no change for equal content, whatever the key order", () => {
    const obj = { metadata: { labels: { a: "1", b: "2" } } };
    const before = obj.metadata.labels;
    assert.deepEqual(meta.setLabels(obj, { b: "2", a: "1" }), { ok: true, changed: false });
    assert.equal(obj.metadata.labels, before);
    assert.deepEqual(meta.setLabels(obj, { a: "1" }), { ok: true, changed: true });
    assert.deepEqual(obj.metadata.labels, { a: "1" });
    assert.deepEqual(meta.setLabels(obj, { a: "1", c: "3" }), { ok: true, changed: true });
    assert.deepEqual(meta.setLabels(obj, { a: "9", c: "3" }), { ok: true, changed: true });
    assert.deepEqual(obj.metadata.labels, { a: "9", c: "3" });
  });

  it("setLabels(undefined) removes the field", () => {
    const obj = { metadata: { name: "n", labels: { a: "1" } } };
    assert.deepEqual(meta.setLabels(obj, undefined), { ok: true, changed: true });
    assert.deepEqual(obj, { metadata: { name: "n" } });
    assert.deepEqual(meta.setLabels(obj, undefined), { ok: true, changed: false });
  });

  it("setAnnotations replaces the annotations and treats a non-string value as a difference", () => {
    const obj = { metadata: { annotations: { a: 1 } } };
    assert.deepEqual(meta.setAnnotations(obj, { a: "1" }), { ok: true, changed: true });
    assert.deepEqual(obj.metadata.annotations, { a: "1" });
    assert.deepEqual(meta.setAnnotations(obj, { a: "1" }), { ok: true, changed: false });
  });

  it("refuse metadata that is not a map, and a frozen object, without changing them", () => {
    const obj = { metadata: ["x"] };
    assert.deepEqual(meta.setLabels(obj, { a: "b" }), {
      ok: false,
      changed: false,
      reason: "wrong-type",
      at: ["metadata"],
      expected: "map",
      actual: "array",
    });
    assert.deepEqual(obj, { metadata: ["x"] });
    const frozen = Object.freeze({ metadata: Object.freeze({ name: "n" }) });
    assert.deepEqual(meta.setAnnotations(frozen, { a: "b" }), {
      ok: false,
      changed: false,
      reason: "read-only",
      at: ["metadata"],
    });
  });
});

describe("finalizer editors", () => {
  const F = "kindwatch.dev/cleanup";

  it("addFinalizer creates the list and reports the change once", () => {
    const obj = { metadata: { name: "n" } };
    assert.deepEqual(meta.addFinalizer(obj, F), { ok: true, changed: true });
    assert.deepEqual(meta.addFinalizer(obj, F), { ok: true, changed: false });
    assert.deepEqual(obj, { metadata: { name: "n", finalizers: [F] } });
  });

  it("addFinalizer appends after existing entries and keeps the list untouched when present", () => {
    const obj = { metadata: { finalizers: ["a", F] } };
    const list = obj.metadata.finalizers;
    assert.deepEqual(meta.addFinalizer(obj, F), { ok: true, changed: false });
    assert.equal(obj.metadata.finalizers, list);
    assert.deepEqual(meta.addFinalizer(obj, "b"), { ok: true, changed: true });
    assert.deepEqual(obj.metadata.finalizers, ["a", F, "b"]);
  });

  it("addFinalizer refuses a finalizers field that is not an array", () => {
    const obj = { metadata: { finalizers: F } };
    assert.deepEqual(meta.addFinalizer(obj, F), {
      ok: false,
      changed: false,
      reason: "wrong-type",
      at: ["metadata", "finalizers"],
      expected: "array",
      actual: "string",
    });
    assert.deepEqual(obj, { metadata: { finalizers: F } });
    assert.equal(meta.addFinalizer({ metadata: 7 }, F).ok, false);
  });

  it("addFinalizer refuses a frozen object", () => {
    const obj = Object.freeze({ metadata: Object.freeze({ finalizers: Object.freeze(["a"]) }) });
    assert.deepEqual(meta.addFinalizer(obj, F), { ok: false, changed: false, reason: "read-only", at: ["metadata"] });
    assert.deepEqual(obj.metadata.finalizers, ["a"]);
  });

  it("removeFinalizer removes every occurrence and keeps the others in order", () => {
    const obj = { metadata: { finalizers: [F, "a", F, "b"] } };
    assert.deepEqual(meta.removeFinalizer(obj, F), { ok: true, changed: true });
    assert.deepEqual(obj.metadata.finalizers, ["a", "b"]);
    assert.deepEqual(meta.removeFinalizer(obj, F), { ok: true, changed: false });
    assert.deepEqual(meta.removeFinalizer(obj, "a"), { ok: true, changed: true });
    assert.deepEqual(meta.removeFinalizer(obj, "b"), { ok: true, changed: true });
    assert.deepEqual(obj.metadata.finalizers, []);
  });

  it("removeFinalizer has nothing to do on a missing or non-array list", () => {
    assert.deepEqual(meta.removeFinalizer({}, F), { ok: true, changed: false });
    assert.deepEqual(meta.removeFinalizer({ metadata: { finalizers: F } }, F), { ok: true, changed: false });
  });

  it("removeFinalizer refuses a frozen object and leaves the finalizer in place", () => {
    const obj = Object.freeze({ metadata: Object.freeze({ finalizers: [F] }) });
    assert.deepEqual(meta.removeFinalizer(obj, F), {
      ok: false,
      changed: false,
      reason: "read-only",
      at: ["metadata"],
    });
    assert.equal(meta.hasFinalizer(obj, F), true);
  });

  it("setFinalizers replaces, compares by content, and removes on undefined", () => {
    const obj = { metadata: { finalizers: ["a", "b"] } };
    assert.deepEqual(meta.setFinalizers(obj, ["a", "b"]), { ok: true, changed: false });
    assert.deepEqual(meta.setFinalizers(obj, ["b", "a"]), { ok: true, changed: true });
    const wanted = ["x"];
    meta.setFinalizers(obj, wanted);
    wanted.push("y");
    assert.deepEqual(obj.metadata.finalizers, ["x"]);
    assert.deepEqual(meta.setFinalizers(obj, undefined), { ok: true, changed: true });
    assert.deepEqual(obj, { metadata: {} });
  });
});
