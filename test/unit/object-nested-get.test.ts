import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describeMiss, formatPath, nested } from "../../src/object/index.js";

const pod = () =>
  JSON.parse(`{
    "apiVersion": "v1", "kind": "Pod",
    "metadata": { "name": "web", "labels": { "app": "web", "tier": "front" } },
    "spec": {
      "replicas": 3, "ratio": 0.5, "paused": false, "nothing": null, "label": "x", "big": 9007199254740993,
      "containers": [ { "name": "main", "image": "nginx", "ports": [ { "containerPort": 80 } ] }, null ],
      "args": ["a", "b"]
    }
  }`);

describe("nested.get", () => {
  it("walks maps and array indexes to the value", () => {
    const obj = pod();
    assert.deepEqual(nested.get(obj, "spec", "containers", 0, "ports", 0, "containerPort"), { found: true, value: 80 });
    assert.deepEqual(nested.get(obj, "spec", "args", 1), { found: true, value: "b" });
  });

  it("returns the live value, not a copy", () => {
    const obj = pod();
    const spec = nested.get(obj, "spec");
    assert.ok(spec.found);
    assert.equal(spec.value, obj.spec);
  });

  it("with no path returns the object itself, and reports a missing root at []", () => {
    const obj = pod();
    assert.deepEqual(nested.get(obj), { found: true, value: obj });
    assert.deepEqual(nested.get(undefined, "a"), { found: false, reason: "missing", at: [] });
    assert.deepEqual(nested.get(null), { found: false, reason: "missing", at: [] });
  });

  it("reports a missing key at the first segment that is absent", () => {
    assert.deepEqual(nested.get(pod(), "spec", "template", "metadata", "name"), {
      found: false,
      reason: "missing",
      at: ["spec", "template"],
    });
  });

  it("treats null as missing, in the middle of a path and at its end", () => {
    assert.deepEqual(nested.get(pod(), "spec", "nothing"), {
      found: false,
      reason: "missing",
      at: ["spec", "nothing"],
    });
    assert.deepEqual(nested.get(pod(), "spec", "nothing", "deeper"), {
      found: false,
      reason: "missing",
      at: ["spec", "nothing"],
    });
    assert.deepEqual(nested.get(pod(), "spec", "containers", 1, "name"), {
      found: false,
      reason: "missing",
      at: ["spec", "containers", 1],
    });
  });

  it("reports a scalar where a map was expected at the scalar's path", () => {
    assert.deepEqual(nested.get(pod(), "spec", "label", "inner"), {
      found: false,
      reason: "wrong-type",
      at: ["spec", "label"],
      expected: "map",
      actual: "string",
    });
  });

  it("reports an array where a map was expected", () => {
    assert.deepEqual(nested.get(pod(), "spec", "containers", "name"), {
      found: false,
      reason: "wrong-type",
      at: ["spec", "containers"],
      expected: "map",
      actual: "array",
    });
  });

  it("reports a map where an array was expected (a number segment never reads a map key)", () => {
    const obj = { spec: { 0: "zero" } };
    assert.deepEqual(nested.get(obj, "spec", 0), {
      found: false,
      reason: "wrong-type",
      at: ["spec"],
      expected: "array",
      actual: "map",
    });
  });

  it("reports the root's type when the root is not a container", () => {
    assert.deepEqual(nested.get("text", "a"), {
      found: false,
      reason: "wrong-type",
      at: [],
      expected: "map",
      actual: "string",
    });
  });

  it("treats indexes outside the array, negative, fractional or NaN indexes and holes as missing", () => {
    const list: string[] = [];
    list[0] = "a";
    list[2] = "c";
    const obj = { list };
    for (const index of [3, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 1]) {
      assert.deepEqual(nested.get(obj, "list", index), { found: false, reason: "missing", at: ["list", index] });
    }
    assert.deepEqual(nested.get(obj, "list", 2), { found: true, value: "c" });
  });

  it("only sees own properties: inherited names are missing", () => {
    for (const key of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
      assert.deepEqual(nested.get({ spec: {} }, "spec", key), { found: false, reason: "missing", at: ["spec", key] });
    }
    assert.deepEqual(nested.get({ list: [] }, "list", "length"), {
      found: false,
      reason: "wrong-type",
      at: ["list"],
      expected: "map",
      actual: "array",
    });
  });

  it("reads an own __proto__ key as data", () => {
    const obj = JSON.parse('{"data": {"__proto__": {"x": 1}, "constructor": "c"}}');
    assert.deepEqual(nested.get(obj, "data", "__proto__", "x"), { found: true, value: 1 });
    assert.deepEqual(nested.get(obj, "data", "constructor"), { found: true, value: "c" });
  });

  it("reads maps with a null prototype", () => {
    const data = Object.create(null);
    data.key = "value";
    assert.deepEqual(nested.get({ data }, "data", "key"), { found: true, value: "value" });
  });

  it("does not walk into class instances", () => {
    assert.deepEqual(nested.get({ at: new Date(0) }, "at", "getTime"), {
      found: false,
      reason: "wrong-type",
      at: ["at"],
      expected: "map",
      actual: "other",
    });
    assert.deepEqual(nested.get({ m: new Map([["k", 1]]) }, "m", "k"), {
      found: false,
      reason: "wrong-type",
      at: ["m"],
      expected: "map",
      actual: "other",
    });
  });

  it("never runs getters, so a throwing getter reads as missing", () => {
    const obj = {
      get spec(): unknown {
        throw new Error("getter ran");
      },
    };
    assert.deepEqual(nested.get(obj, "spec"), { found: false, reason: "missing", at: ["spec"] });
  });

  it("follows a 10,000-segment path without recursion", () => {
    const root: Record<string, unknown> = {};
    let node = root;
    for (let i = 0; i < 10_000; i++) {
      const child: Record<string, unknown> = {};
      node.n = child;
      node = child;
    }
    node.leaf = "bottom";
    const path = [...Array.from({ length: 10_000 }, () => "n"), "leaf"];
    assert.deepEqual(nested.get(root, ...path), { found: true, value: "bottom" });
    const miss = nested.get(root, ...path.slice(0, -1), "other");
    assert.equal(miss.found, false);
    assert.equal(miss.found === false && miss.at.length, 10_001);
  });
});

describe("nested typed getters", () => {
  it("string reads strings and reports other types at the full path", () => {
    assert.deepEqual(nested.string(pod(), "spec", "label"), { found: true, value: "x" });
    assert.deepEqual(nested.string(pod(), "spec", "replicas"), {
      found: false,
      reason: "wrong-type",
      at: ["spec", "replicas"],
      expected: "string",
      actual: "integer",
    });
  });

  it("integer reads safe integers only", () => {
    assert.deepEqual(nested.integer(pod(), "spec", "replicas"), { found: true, value: 3 });
    assert.deepEqual(nested.integer({ n: -7 }, "n"), { found: true, value: -7 });
    const cases: Array<[unknown, string]> = [
      [0.5, "number"],
      ["3", "string"],
      [2 ** 53, "number"],
      [Number.NaN, "other"],
      [Number.POSITIVE_INFINITY, "other"],
      [true, "boolean"],
      [[3], "array"],
    ];
    for (const [value, actual] of cases) {
      assert.deepEqual(nested.integer({ n: value }, "n"), {
        found: false,
        reason: "wrong-type",
        at: ["n"],
        expected: "integer",
        actual,
      });
    }
  });

  it("integer refuses an integer that JSON.parse could not hold exactly", () => {
    const miss = nested.integer(pod(), "spec", "big");
    assert.equal(miss.found, false);
    assert.equal(miss.found === false && miss.actual, "number");
  });

  it("number reads integers and fractions but not numeric strings or NaN", () => {
    assert.deepEqual(nested.number(pod(), "spec", "ratio"), { found: true, value: 0.5 });
    assert.deepEqual(nested.number(pod(), "spec", "replicas"), { found: true, value: 3 });
    assert.deepEqual(nested.number({ n: "0.5" }, "n"), {
      found: false,
      reason: "wrong-type",
      at: ["n"],
      expected: "number",
      actual: "string",
    });
    assert.equal(nested.number({ n: Number.NaN }, "n").found, false);
  });

  it("boolean reads booleans, not their string or number spellings", () => {
    assert.deepEqual(nested.boolean(pod(), "spec", "paused"), { found: true, value: false });
    for (const [value, actual] of [
      ["true", "string"],
      [1, "integer"],
    ] as const) {
      assert.deepEqual(nested.boolean({ b: value }, "b"), {
        found: false,
        reason: "wrong-type",
        at: ["b"],
        expected: "boolean",
        actual,
      });
    }
  });

  it("slice returns the live array and refuses maps", () => {
    const obj = pod();
    const args = nested.slice(obj, "spec", "args");
    assert.ok(args.found);
    assert.equal(args.value, obj.spec.args);
    assert.deepEqual(nested.slice(obj, "metadata", "labels"), {
      found: false,
      reason: "wrong-type",
      at: ["metadata", "labels"],
      expected: "array",
      actual: "map",
    });
  });

  it("map returns the live map and refuses arrays", () => {
    const obj = pod();
    const labels = nested.map(obj, "metadata", "labels");
    assert.ok(labels.found);
    assert.equal(labels.value, obj.metadata.labels);
    assert.deepEqual(nested.map(obj, "spec", "args"), {
      found: false,
      reason: "wrong-type",
      at: ["spec", "args"],
      expected: "map",
      actual: "array",
    });
  });

  it("typed getters pass missing values through unchanged", () => {
    for (const getter of [nested.string, nested.integer, nested.number, nested.boolean, nested.slice, nested.map]) {
      assert.deepEqual(getter(pod(), "spec", "absent", "x"), {
        found: false,
        reason: "missing",
        at: ["spec", "absent"],
      });
    }
  });

  it("stringSlice returns a copy and reports a non-string element at its index", () => {
    const obj = pod();
    const args = nested.stringSlice(obj, "spec", "args");
    assert.deepEqual(args, { found: true, value: ["a", "b"] });
    assert.ok(args.found);
    assert.notEqual(args.value, obj.spec.args);
    assert.deepEqual(nested.stringSlice({ l: ["a", 2] }, "l"), {
      found: false,
      reason: "wrong-type",
      at: ["l", 1],
      expected: "string",
      actual: "integer",
    });
  });

  it("stringMap returns a copy and reports a non-string value at its key", () => {
    const obj = pod();
    const labels = nested.stringMap(obj, "metadata", "labels");
    assert.deepEqual(labels, { found: true, value: { app: "web", tier: "front" } });
    assert.ok(labels.found);
    assert.notEqual(labels.value, obj.metadata.labels);
    assert.deepEqual(nested.stringMap({ m: { a: "x", b: false } }, "m"), {
      found: false,
      reason: "wrong-type",
      at: ["m", "b"],
      expected: "string",
      actual: "boolean",
    });
  });

  it("stringMap keeps a __proto__ key as an own entry of an ordinary object", () => {
    const result = nested.stringMap(JSON.parse('{"data": {"__proto__": "p", "a": "b"}}'), "data");
    assert.ok(result.found);
    assert.equal(Object.getPrototypeOf(result.value), Object.prototype);
    assert.deepEqual(Object.keys(result.value), ["__proto__", "a"]);
    assert.equal(Object.getOwnPropertyDescriptor(result.value, "__proto__")?.value, "p");
  });
});

describe("formatPath and describeMiss", () => {
  it("renders identifiers with dots, indexes with brackets and other keys quoted", () => {
    assert.equal(formatPath([]), "(root)");
    assert.equal(formatPath(["spec", "containers", 0, "image"]), "spec.containers[0].image");
    assert.equal(
      formatPath(["metadata", "labels", "app.kubernetes.io/name"]),
      'metadata.labels["app.kubernetes.io/name"]',
    );
    assert.equal(formatPath([2, "x"]), "[2].x");
  });

  it("explains wrong types and missing values", () => {
    const wrong = nested.integer({ spec: { n: "3" } }, "spec", "n");
    const absent = nested.integer({}, "spec", "n");
    assert.ok(!wrong.found && !absent.found);
    assert.equal(describeMiss(wrong), "spec.n: expected integer, found string");
    assert.equal(describeMiss(absent), "spec: missing");
  });
});
