import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { deepCopy } from "../../src/object/index.js";

type Node = { n?: Node; leaf?: string };

describe("deepCopy", () => {
  it("copies maps and arrays at every level", () => {
    const source = { a: { b: [1, { c: "d" }] }, e: null, f: true };
    const copy = deepCopy(source);
    assert.deepEqual(copy, source);
    assert.notEqual(copy, source);
    assert.notEqual(copy.a, source.a);
    assert.notEqual(copy.a.b, source.a.b);
    assert.notEqual(copy.a.b[1], source.a.b[1]);
    (copy.a.b[1] as { c: string }).c = "changed";
    copy.a.b.push(2);
    assert.deepEqual(source, { a: { b: [1, { c: "d" }] }, e: null, f: true });
  });

  it("returns primitives as they are", () => {
    for (const value of [undefined, null, 0, -1.5, "s", false, 10n]) assert.equal(deepCopy(value), value);
  });

  it("shares values JSON cannot produce instead of guessing how to copy them", () => {
    const date = new Date(0);
    const fn = () => 1;
    const copy = deepCopy({ date, fn });
    assert.equal(copy.date, date);
    assert.equal(copy.fn, fn);
  });

  it("keeps null-prototype maps null-prototype and ordinary maps ordinary", () => {
    const bare = Object.create(null);
    bare.k = "v";
    const copy = deepCopy({ bare });
    assert.equal(Object.getPrototypeOf(copy.bare), null);
    assert.equal(copy.bare.k, "v");
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
  });

  it("copies a __proto__ key as an own data key without changing the copy's prototype", () => {
    const source = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const copy = deepCopy(source);
    assert.equal(Object.getPrototypeOf(copy), Object.prototype);
    assert.deepEqual(Object.keys(copy), ["__proto__", "a"]);
    assert.deepEqual(Object.getOwnPropertyDescriptor(copy, "__proto__")?.value, { polluted: true });
    assert.equal((copy as { polluted?: unknown }).polluted, undefined);
    assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  });

  it("keeps holes in arrays", () => {
    const source: string[] = [];
    source[0] = "a";
    source[2] = "c";
    const copy = deepCopy(source);
    assert.equal(copy.length, 3);
    assert.equal(1 in copy, false);
    assert.equal(copy[2], "c");
  });

  it("returns an unfrozen copy of a frozen object", () => {
    const source = Object.freeze({ spec: Object.freeze({ replicas: 1 }) });
    const copy = deepCopy(source) as { spec: { replicas: number } };
    copy.spec.replicas = 2;
    assert.equal(source.spec.replicas, 1);
    assert.equal(Object.isFrozen(copy.spec), false);
  });

  it("never runs getters", () => {
    const source = {
      kept: 1,
      get trap(): unknown {
        throw new Error("getter ran");
      },
    };
    assert.deepEqual(deepCopy(source), { kept: 1 });
  });

  it("reproduces cycles and shared subtrees instead of looping", () => {
    const shared = { s: 1 };
    const source: Record<string, unknown> = { left: shared, right: shared };
    source.self = source;
    const copy = deepCopy(source);
    assert.equal(copy.self, copy);
    assert.equal(copy.left, copy.right);
    assert.notEqual(copy.left, shared);
  });

  for (const depth of [10_000, 200_000]) {
    it(`copies ${depth} levels of nested maps and arrays without overflowing the stack`, () => {
      const root: Node = {};
      let node = root;
      for (let i = 0; i < depth; i++) {
        node.n = {};
        node = node.n;
      }
      node.leaf = "bottom";
      let list: unknown[] = ["bottom"];
      for (let i = 0; i < depth; i++) list = [list];

      const copy = deepCopy(root);
      let a: Node | undefined = copy;
      let b: Node | undefined = root;
      let levels = 0;
      while (a?.n !== undefined) {
        assert.notEqual(a, b);
        a = a.n;
        b = b?.n;
        levels++;
      }
      assert.equal(levels, depth);
      assert.equal(a?.leaf, "bottom");

      let listCopy: unknown = deepCopy(list);
      for (let i = 0; i < depth; i++) listCopy = (listCopy as unknown[])[0];
      assert.deepEqual(listCopy, ["bottom"]);
    });
  }
});
