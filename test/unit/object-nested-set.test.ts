import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deepCopy, nested } from "../../src/object/index.js";

const CHANGED = { ok: true, changed: true };
const UNCHANGED = { ok: true, changed: false };

describe("nested.set", () => {
  it("creates the missing maps on the way", () => {
    const obj: Record<string, unknown> = { kind: "Thing" };
    assert.deepEqual(nested.set(obj, 5, "spec", "rateLimit", "requestsPerSecond"), CHANGED);
    assert.deepEqual(obj, { kind: "Thing", spec: { rateLimit: { requestsPerSecond: 5 } } });
  });

  it("keeps existing maps and their other keys", () => {
    const spec = { a: 1 };
    const obj = { spec };
    assert.deepEqual(nested.set(obj, 2, "spec", "b"), CHANGED);
    assert.equal(obj.spec, spec);
    assert.deepEqual(obj, { spec: { a: 1, b: 2 } });
  });

  it("reports no change when the field already holds the same value", () => {
    const obj = { spec: { replicas: 3, name: "x" } };
    assert.deepEqual(nested.set(obj, 3, "spec", "replicas"), UNCHANGED);
    assert.deepEqual(nested.set(obj, 4, "spec", "replicas"), CHANGED);
    assert.equal(obj.spec.replicas, 4);
  });

  it("replaces a null on the path with a map", () => {
    const obj = { spec: null };
    assert.deepEqual(nested.set(obj, "v", "spec", "k"), CHANGED);
    assert.deepEqual(obj, { spec: { k: "v" } });
  });

  it("stores the value itself, not a copy", () => {
    const value = { deep: true };
    const obj = {};
    nested.set(obj, value, "v");
    assert.equal((obj as { v: unknown }).v, value);
  });

  it("refuses to go through a scalar and leaves the object as it was", () => {
    const obj = { spec: "text" };
    assert.deepEqual(nested.set(obj, 1, "spec", "a", "b"), {
      ok: false,
      changed: false,
      reason: "wrong-type",
      at: ["spec"],
      expected: "map",
      actual: "string",
    });
    assert.deepEqual(obj, { spec: "text" });
  });

  it("refuses a string key on an array", () => {
    const obj = { spec: [1, 2] };
    assert.deepEqual(nested.set(obj, 1, "spec", "length"), {
      ok: false,
      changed: false,
      reason: "wrong-type",
      at: ["spec"],
      expected: "map",
      actual: "array",
    });
    assert.deepEqual(obj, { spec: [1, 2] });
  });

  it("refuses a root that is not a map", () => {
    assert.deepEqual(nested.set([], 1, "a"), {
      ok: false,
      changed: false,
      reason: "wrong-type",
      at: [],
      expected: "map",
      actual: "array",
    });
  });

  it("sets an existing array element by index and walks through it", () => {
    const obj = { containers: [{ name: "a" }, { name: "b" }] };
    assert.deepEqual(nested.set(obj, "nginx", "containers", 1, "image"), CHANGED);
    assert.deepEqual(nested.set(obj, { name: "z" }, "containers", 0), CHANGED);
    assert.deepEqual(obj, { containers: [{ name: "z" }, { name: "b", image: "nginx" }] });
  });

  it("never grows an array: an index must name an existing element", () => {
    const obj = { list: ["a"] };
    for (const index of [1, -1, 0.5, Number.NaN]) {
      assert.deepEqual(nested.set(obj, "x", "list", index), {
        ok: false,
        changed: false,
        reason: "out-of-range",
        at: ["list", index],
      });
    }
    assert.deepEqual(obj, { list: ["a"] });
  });

  it("refuses an index on a map", () => {
    const obj = { spec: {} };
    assert.deepEqual(nested.set(obj, 1, "spec", 0), {
      ok: false,
      changed: false,
      reason: "wrong-type",
      at: ["spec"],
      expected: "array",
      actual: "map",
    });
    assert.deepEqual(obj, { spec: {} });
  });

  it("refuses to create an array that is missing, without creating the maps before it", () => {
    const obj = {};
    assert.deepEqual(nested.set(obj, "x", "spec", "containers", 0, "image"), {
      ok: false,
      changed: false,
      reason: "missing",
      at: ["spec", "containers"],
    });
    assert.deepEqual(obj, {});
  });

  it("refuses an empty path", () => {
    assert.deepEqual(nested.set({}, 1), { ok: false, changed: false, reason: "empty-path", at: [] });
  });

  it("refuses to write into a frozen object and leaves it alone", () => {
    const obj = Object.freeze({ spec: Object.freeze({ a: 1 }) });
    assert.deepEqual(nested.set(obj, 2, "spec", "a"), { ok: false, changed: false, reason: "read-only", at: ["spec"] });
    assert.deepEqual(nested.set(obj, 2, "status", "b"), { ok: false, changed: false, reason: "read-only", at: [] });
    assert.deepEqual(obj, { spec: { a: 1 } });
  });

  it("attaches new maps in one write, so a refusal leaves no partial path", () => {
    const meta = Object.preventExtensions({ name: "n" });
    const obj = { metadata: meta };
    assert.equal(nested.set(obj, "v", "metadata", "labels", "app").ok, false);
    assert.deepEqual(obj, { metadata: { name: "n" } });
  });

  it("creates a 10,000-level path without recursion", () => {
    const obj = {};
    const path = Array.from({ length: 10_000 }, (_, i) => `k${i}`);
    assert.deepEqual(nested.set(obj, "bottom", ...path), CHANGED);
    assert.deepEqual(nested.get(obj, ...path), { found: true, value: "bottom" });
  });
});

describe("nested.remove", () => {
  it("deletes a map key", () => {
    const obj = { metadata: { name: "a", labels: { x: "1" } } };
    assert.deepEqual(nested.remove(obj, "metadata", "labels"), CHANGED);
    assert.deepEqual(obj, { metadata: { name: "a" } });
  });

  it("reports no change when there is nothing to remove", () => {
    const obj = { spec: { a: 1 }, text: "s", list: [1], nothing: null };
    const before = deepCopy(obj);
    for (const path of [
      ["spec", "b"],
      ["absent", "b"],
      ["text", "x"],
      ["list", "x"],
      ["nothing", "x"],
      ["list", 5],
    ]) {
      assert.deepEqual(nested.remove(obj, ...path), UNCHANGED, `path ${JSON.stringify(path)}`);
    }
    assert.deepEqual(obj, before);
  });

  it("splices an array element out, shifting later ones", () => {
    const obj = { list: ["a", "b", "c"] };
    assert.deepEqual(nested.remove(obj, "list", 1), CHANGED);
    assert.deepEqual(obj, { list: ["a", "c"] });
  });

  it("does not remove inherited properties", () => {
    const obj = { spec: {} };
    assert.deepEqual(nested.remove(obj, "spec", "toString"), UNCHANGED);
    assert.equal(typeof Object.prototype.toString, "function");
  });

  it("refuses a frozen map and a frozen or sealed array, leaving them intact", () => {
    const frozen = { spec: Object.freeze({ a: 1 }) };
    assert.deepEqual(nested.remove(frozen, "spec", "a"), {
      ok: false,
      changed: false,
      reason: "read-only",
      at: ["spec"],
    });
    assert.deepEqual(frozen, { spec: { a: 1 } });
    for (const list of [Object.freeze(["a", "b", "c"]), Object.seal(["a", "b", "c"])]) {
      const obj = { list };
      assert.deepEqual(nested.remove(obj, "list", 0), { ok: false, changed: false, reason: "read-only", at: ["list"] });
      assert.deepEqual(obj.list, ["a", "b", "c"]);
    }
  });

  it("checks every element a splice would touch, so it never fails half-way", () => {
    const pinned = ["a", "b", "c"];
    Object.defineProperty(pinned, 2, { value: "c", writable: true, enumerable: true, configurable: false });
    const holey: string[] = [];
    holey[0] = "a";
    holey[2] = "c";
    Object.preventExtensions(holey);
    for (const list of [pinned, holey]) {
      const before = [...list.entries()];
      const obj = { list };
      assert.deepEqual(nested.remove(obj, "list", 0), { ok: false, changed: false, reason: "read-only", at: ["list"] });
      assert.deepEqual([...list.entries()], before);
    }
  });

  it("refuses an empty path", () => {
    assert.deepEqual(nested.remove({ a: 1 }), { ok: false, changed: false, reason: "empty-path", at: [] });
  });
});
