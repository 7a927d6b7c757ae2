/** Changed field paths between two versions of an object, and which changes are only noise. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { changedPaths, isNoise } from "../../src/watchall/diff.js";

const base = {
  apiVersion: "example.com/v1",
  kind: "Widget",
  metadata: { name: "w", resourceVersion: "5", labels: { app: "a", "app.kubernetes.io/name": "w" } },
  spec: { replicas: 1, containers: [{ name: "c", image: "x:1" }], tags: ["a", "b"] },
};

function changed(edit: (o: typeof base) => void): string[] {
  const after = structuredClone(base);
  edit(after);
  return changedPaths(base, after);
}

describe("changedPaths", () => {
  it("finds nothing between equal objects, even different copies", () => {
    assert.deepEqual(changedPaths(base, structuredClone(base)), []);
  });

  it("reports a changed scalar at its dotted path", () => {
    assert.deepEqual(
      changed((o) => {
        o.spec.replicas = 3;
      }),
      ["spec.replicas"],
    );
  });

  it("reports added and removed keys at the key, not below it", () => {
    assert.deepEqual(
      changed((o) => {
        (o.spec as Record<string, unknown>).paused = { why: "x" };
        delete (o.metadata.labels as Record<string, string>).app;
      }),
      ["metadata.labels.app", "spec.paused"],
    );
  });

  it("indexes into arrays of the same length and reports an array whose length changed as a whole", () => {
    assert.deepEqual(
      changed((o) => {
        (o.spec.containers[0] as { image: string }).image = "x:2";
        o.spec.tags.push("c");
      }),
      ["spec.containers[0].image", "spec.tags"],
    );
  });

  it("quotes keys that are not identifiers", () => {
    assert.deepEqual(
      changed((o) => {
        o.metadata.labels["app.kubernetes.io/name"] = "v";
      }),
      ['metadata.labels["app.kubernetes.io/name"]'],
    );
  });

  it("reports a change of type at the path, and a different root as (root)", () => {
    assert.deepEqual(
      changed((o) => {
        (o.spec as Record<string, unknown>).replicas = "1";
      }),
      ["spec.replicas"],
    );
    assert.deepEqual(changedPaths(1, 2), ["(root)"]);
  });

  it("returns the paths sorted, and at most `limit`", () => {
    const a = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));
    const b = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i + 1]));
    const all = changedPaths(a, b);
    assert.equal(all.length, 20);
    assert.deepEqual(all, [...all].sort());
    assert.equal(changedPaths(a, b, 5).length, 5);
  });
});

describe("isNoise", () => {
  it("is noise when only the resourceVersion or managedFields changed", () => {
    assert.equal(isNoise(["metadata.resourceVersion"]), true);
    assert.equal(isNoise(["metadata.managedFields", "metadata.resourceVersion"]), true);
    assert.equal(isNoise(["metadata.managedFields[0].time", "metadata.resourceVersion"]), true);
  });

  it("is not noise when anything else changed, or nothing did", () => {
    assert.equal(isNoise(["metadata.resourceVersion", "spec.replicas"]), false);
    assert.equal(isNoise(["metadata.generation", "metadata.resourceVersion"]), false);
    assert.equal(isNoise(["metadata.resourceVersionX"]), false);
    assert.equal(isNoise([]), false);
  });
});
