import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runInNewContext } from "node:vm";
import { asMap, isKubeObject, isMap, valueType } from "../../src/object/index.js";

describe("valueType", () => {
  it("classifies values by their JSON type", () => {
    const cases: Array<[unknown, string]> = [
      ["s", "string"],
      [0, "integer"],
      [-5, "integer"],
      [2 ** 53 - 1, "integer"],
      [2 ** 53, "number"],
      [0.25, "number"],
      [Number.NaN, "other"],
      [Number.NEGATIVE_INFINITY, "other"],
      [true, "boolean"],
      [null, "null"],
      [[], "array"],
      [{}, "map"],
      [Object.create(null), "map"],
      [undefined, "other"],
      [new Date(), "other"],
      [new Map(), "other"],
      [() => 1, "other"],
      [1n, "other"],
      [Symbol("s"), "other"],
    ];
    for (const [i, [value, type]] of cases.entries()) assert.equal(valueType(value), type, `case ${i}`);
  });
});

describe("isMap", () => {
  it("accepts plain objects from any realm and refuses everything else", () => {
    assert.equal(isMap({}), true);
    assert.equal(isMap(Object.create(null)), true);
    assert.equal(isMap(runInNewContext("({ a: 1 })")), true);
    assert.equal(isMap(JSON.parse('{"__proto__": []}')), true);
    class Thing {}
    for (const value of [[], new Thing(), new Date(), new Map(), null, undefined, "x", Object.create({ a: 1 })]) {
      assert.equal(isMap(value), false);
    }
  });
});

describe("asMap", () => {
  it("gives back a map as it is and anything else as undefined", () => {
    const map = { a: 1 };
    assert.equal(asMap(map), map);
    for (const value of [[], new Date(), null, undefined, "x", 1]) assert.equal(asMap(value), undefined);
  });
});

describe("isKubeObject", () => {
  it("checks the envelope", () => {
    assert.equal(isKubeObject({ apiVersion: "v1", kind: "ConfigMap", metadata: {} }), true);
    assert.equal(isKubeObject({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: 5 } }), true);
    assert.equal(isKubeObject({ kind: "ConfigMap", metadata: {} }), false);
    assert.equal(isKubeObject({ apiVersion: 1, kind: "ConfigMap", metadata: {} }), false);
    assert.equal(isKubeObject({ apiVersion: "v1", kind: "ConfigMap" }), false);
    assert.equal(isKubeObject({ apiVersion: "v1", kind: "ConfigMap", metadata: [] }), false);
    assert.equal(isKubeObject([]), false);
    assert.equal(isKubeObject(null), false);
  });
});
