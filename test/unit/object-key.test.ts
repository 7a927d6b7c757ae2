import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { objectKey, splitKey } from "../../src/object/index.js";

describe("objectKey", () => {
  it("is namespace/name for namespaced objects and name for cluster-scoped ones", () => {
    assert.equal(objectKey({ metadata: { namespace: "shop", name: "web" } }), "shop/web");
    assert.equal(objectKey({ metadata: { name: "node-1" } }), "node-1");
    assert.equal(objectKey({ metadata: { namespace: "", name: "node-1" } }), "node-1");
  });

  it("is as lenient as client-go's MetaNamespaceKeyFunc about a missing name", () => {
    assert.equal(objectKey({ metadata: { namespace: "shop" } }), "shop/");
    assert.equal(objectKey({ metadata: {} }), "");
    assert.equal(objectKey("not an object"), "");
    assert.equal(objectKey({ metadata: { namespace: 3, name: "x" } }), "x");
  });
});

describe("splitKey", () => {
  it("splits namespace/name and name", () => {
    assert.deepEqual(splitKey("shop/web"), { namespace: "shop", name: "web" });
    assert.deepEqual(splitKey("node-1"), { namespace: "", name: "node-1" });
  });

  it("follows SplitMetaNamespaceKey on the edge cases", () => {
    assert.deepEqual(splitKey(""), { namespace: "", name: "" });
    assert.deepEqual(splitKey("/web"), { namespace: "", name: "web" });
    assert.deepEqual(splitKey("shop/"), { namespace: "shop", name: "" });
    assert.equal(splitKey("a/b/c"), undefined);
  });

  it("inverts objectKey", () => {
    for (const [namespace, name] of [
      ["shop", "web"],
      [undefined, "node-1"],
      ["kube-system", "coredns.v1"],
    ]) {
      const metadata = namespace === undefined ? { name } : { namespace, name };
      assert.deepEqual(splitKey(objectKey({ metadata })), { namespace: namespace ?? "", name });
    }
  });
});
