import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { OwnerReferenceError, setControllerReference, setOwnerReference } from "../../src/controller/owner.js";
import type { KubeObject } from "../../src/object/types.js";

const owner = (name: string, namespace?: string, uid = `uid-${name}`): KubeObject => ({
  apiVersion: "example.com/v1",
  kind: "Database",
  metadata: { name, uid, ...(namespace ? { namespace } : {}) },
});
const configMap = (namespace?: string, ownerReferences?: unknown): KubeObject => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    name: "settings",
    ...(namespace ? { namespace } : {}),
    ...(ownerReferences ? { ownerReferences: ownerReferences as KubeObject["metadata"]["ownerReferences"] } : {}),
  },
});
const refused = (reason: string) => (err: unknown) => err instanceof OwnerReferenceError && err.reason === reason;

describe("owner references", () => {
  it("sets a controller reference with controller and blockOwnerDeletion, once", () => {
    const cm = configMap("shop");
    assert.equal(setControllerReference(owner("orders", "shop"), cm), true);
    assert.deepEqual(cm.metadata.ownerReferences, [
      {
        apiVersion: "example.com/v1",
        kind: "Database",
        name: "orders",
        uid: "uid-orders",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.equal(setControllerReference(owner("orders", "shop"), cm), false);
    assert.equal(cm.metadata.ownerReferences?.length, 1);
  });

  it("replaces the reference to the same owner at another version or uid, and keeps other owners", () => {
    const other = { apiVersion: "v1", kind: "Secret", name: "s", uid: "u-s" };
    const cm = configMap("shop", [
      other,
      { apiVersion: "example.com/v1beta1", kind: "Database", name: "orders", uid: "old" },
    ]);
    assert.equal(setControllerReference(owner("orders", "shop", "new"), cm), true);
    assert.deepEqual(cm.metadata.ownerReferences, [
      other,
      {
        apiVersion: "example.com/v1",
        kind: "Database",
        name: "orders",
        uid: "new",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it("refuses a second controller and leaves the object unchanged", () => {
    const cm = configMap("shop");
    setControllerReference(owner("orders", "shop"), cm);
    const before = structuredClone(cm);
    assert.throws(() => setControllerReference(owner("billing", "shop"), cm), refused("already-owned"));
    assert.deepEqual(cm, before);
    // A plain owner reference is fine beside the controller.
    assert.equal(setOwnerReference(owner("billing", "shop"), cm), true);
    assert.deepEqual(
      cm.metadata.ownerReferences?.map((r) => [r.name, r.controller]),
      [
        ["orders", true],
        ["billing", undefined],
      ],
    );
  });

  it("refuses a cross-namespace owner and a namespaced owner of a cluster-scoped object", () => {
    assert.throws(
      () => setControllerReference(owner("orders", "shop"), configMap("other")),
      refused("cross-namespace"),
    );
    assert.throws(() => setOwnerReference(owner("orders", "shop"), configMap("other")), refused("cross-namespace"));
    const clusterScoped = configMap();
    assert.throws(
      () => setControllerReference(owner("orders", "shop"), clusterScoped),
      refused("cluster-scoped-dependent"),
    );
    assert.equal(clusterScoped.metadata.ownerReferences, undefined);
    // A cluster-scoped owner may own anything.
    assert.equal(setControllerReference(owner("global"), configMap("shop")), true);
    assert.equal(setControllerReference(owner("global"), configMap()), true);
  });

  it("refuses an owner without a uid, and ownerReferences that are not a list", () => {
    assert.throws(
      () => setControllerReference(owner("orders", "shop", ""), configMap("shop")),
      refused("incomplete-owner"),
    );
    assert.throws(() => setOwnerReference(owner("orders", "shop"), configMap("shop", "junk")), refused("wrong-type"));
  });

  it("setOwnerReference keeps an existing controller flag on the same owner", () => {
    const cm = configMap("shop");
    setControllerReference(owner("orders", "shop"), cm);
    assert.equal(setOwnerReference(owner("orders", "shop"), cm), false);
    assert.equal(cm.metadata.ownerReferences?.[0]?.controller, true);
  });

  it("refuses to edit a frozen (cached) object", () => {
    const cm = Object.freeze(configMap("shop"));
    Object.freeze(cm.metadata);
    assert.throws(() => setControllerReference(owner("orders", "shop"), cm), refused("read-only"));
  });
});
