/** jsonSize: the length of compact JSON without serialising, exact for text JSON does not escape. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jsonSize } from "../../src/cache/size.js";

const exact = (value: unknown) => JSON.stringify(value).length;

describe("jsonSize", () => {
  it("equals JSON.stringify's length for every JSON type", () => {
    const samples: unknown[] = [
      "",
      "text",
      0,
      -12,
      3.25,
      1e21,
      -1.5e-7,
      true,
      false,
      null,
      [],
      {},
      [1, "a", null, [], {}],
      { a: 1, bc: "x", nested: { deeper: [true, false, { k: "" }] }, empty: {}, list: [] },
      { "key.with/odd:chars": "v", 123: "numeric key" },
    ];
    for (const value of samples) assert.equal(jsonSize(value), exact(value), JSON.stringify(value));
  });

  it("leaves out what JSON leaves out, and writes null in arrays for it", () => {
    const value = { a: undefined, f: () => 1, s: Symbol("s"), kept: 1, list: [undefined, () => 2, 3] };
    assert.equal(jsonSize(value), exact(value));
    assert.equal(jsonSize({ a: undefined }), 2);
    assert.equal(jsonSize(Number.NaN), exact(Number.NaN));
    assert.equal(jsonSize(Number.POSITIVE_INFINITY), exact(Number.POSITIVE_INFINITY));
  });

  it("counts a Kubernetes object exactly", () => {
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "web-1",
        namespace: "default",
        uid: "0b4f1c9e-3f1e-4c1a-9a59-2f4c1d2e3f4a",
        resourceVersion: "12345",
        labels: { "app.kubernetes.io/name": "web" },
        ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web", uid: "u", controller: true }],
      },
      spec: { containers: [{ name: "app", image: "nginx:1.27", ports: [{ containerPort: 80 }] }] },
      status: { phase: "Running", podIP: "10.0.0.7" },
    };
    assert.equal(jsonSize(pod), exact(pod));
  });

  it("counts characters JSON escapes as one each: an estimate a little under the real length", () => {
    const value = { note: 'say "hi"\n\\' };
    assert.equal(jsonSize(value), exact(value) - 4);
    assert.equal(jsonSize("é"), exact("é"), "UTF-16 code units, as string.length counts them");
  });
});
