/** internStrings: equal string values in different objects end up as one copy; values never change. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { internStrings } from "../../src/cache/intern.js";
import type { KubeObject } from "../../src/object/types.js";

function pod(name: string): KubeObject {
  return JSON.parse(
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: "production-shop",
        uid: `uid-of-${name}-0000000000`,
        resourceVersion: "1234567890123",
        labels: { "app.kubernetes.io/name": "web-frontend" },
        ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-frontend-6f9c" }],
      },
      spec: { containers: [{ name: "app", image: "registry.example.com/web:1.2.3", args: ["--log-level=info"] }] },
    }),
  ) as KubeObject;
}

describe("internStrings", () => {
  it("changes no value", () => {
    const intern = internStrings();
    const a = pod("web-frontend-6f9c-aaaaa");
    intern(pod("web-frontend-6f9c-bbbbb"));
    assert.deepEqual(intern(a), pod("web-frontend-6f9c-aaaaa"));
  });

  it("hands later objects the first object's strings (the table is observable only through memory)", () => {
    const intern = internStrings();
    const a = intern(pod("web-frontend-6f9c-aaaaa"));
    const b = intern(pod("web-frontend-6f9c-bbbbb"));
    // Equal strings compare equal whether shared or not; what can be checked is that every value survives, and that
    // the table refuses to keep growing (below).
    assert.equal(a.metadata.namespace, b.metadata.namespace);
    assert.deepEqual(a.spec, b.spec);
    assert.notEqual(a.metadata.uid, b.metadata.uid);
  });

  it("empties its table when full, and carries on", () => {
    const intern = internStrings({ maxStrings: 3 });
    const objects = Array.from({ length: 20 }, (_, i) =>
      intern(pod(`web-frontend-6f9c-${String(i).padStart(5, "0")}`)),
    );
    for (const [i, o] of objects.entries()) {
      assert.deepEqual(o, pod(`web-frontend-6f9c-${String(i).padStart(5, "0")}`));
    }
  });

  it("walks arrays of strings and nested arrays", () => {
    const intern = internStrings({ maxLength: 20 });
    const o: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c" },
      data: { list: ["a-long-enough-value", ["another-long-value", 1, null, { k: "nested-long-value" }]] },
    };
    const copy = structuredClone(o);
    assert.deepEqual(intern(o), copy);
  });
});
