import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import {
  deepCopy,
  getCondition,
  getConditions,
  isConditionTrue,
  isKubeObject,
  meta,
  nested,
  objectKey,
  removeCondition,
  setCondition,
  valueType,
} from "../../src/object/index.js";

const clock = () => new Date("2026-11-25T10:00:00Z");

function assertPrototypesClean(): void {
  assert.equal(({} as { polluted?: unknown }).polluted, undefined);
  assert.equal((Object.prototype as { polluted?: unknown }).polluted, undefined);
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), PROTOTYPE_NAMES);
  assert.equal({}.constructor, Object);
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
}

const PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype).sort();

const payloads = [
  '{"__proto__": {"polluted": "yes"}}',
  '{"constructor": {"prototype": {"polluted": "yes"}}}',
  '{"metadata": {"__proto__": {"polluted": "yes"}, "labels": {"__proto__": "yes"}}}',
  '{"status": {"conditions": [{"type": "Ready", "status": "True", "__proto__": {"polluted": "yes"}}]}}',
];

const odd: unknown[] = [
  undefined,
  null,
  0,
  1.5,
  "string",
  true,
  10n,
  Symbol("s"),
  () => 1,
  [],
  [1, "a"],
  {},
  Object.create(null),
  new Date(0),
  new Map(),
  Object.freeze({ metadata: Object.freeze({ name: "frozen" }) }),
  { metadata: [] },
  { metadata: "m" },
  { metadata: { name: 5, namespace: ["x"], labels: ["a"], finalizers: "f", ownerReferences: {}, generation: "3" } },
  { metadata: { labels: { a: 1 }, finalizers: [1, null], ownerReferences: [null, "x", { name: 1 }] } },
  { status: [] },
  { status: { conditions: {} } },
  { status: { conditions: ["x", null, 5, { type: 1 }, { type: "Ready", status: "yes" }] } },
];

describe("hostile input", () => {
  afterEach(assertPrototypesClean);

  it("no reader throws on any odd value", () => {
    for (const value of odd) {
      assert.doesNotThrow(
        () => {
          nested.get(value, "metadata", "name");
          nested.get(value, "metadata", 0);
          nested.string(value, "metadata", "name");
          nested.integer(value, "metadata", "generation");
          nested.number(value, "a");
          nested.boolean(value, "a");
          nested.slice(value, "metadata", "finalizers");
          nested.map(value, "metadata", "labels");
          nested.stringSlice(value, "metadata", "finalizers");
          nested.stringMap(value, "metadata", "labels");
          meta.name(value);
          meta.namespace(value);
          meta.uid(value);
          meta.resourceVersion(value);
          meta.generation(value);
          meta.creationTimestamp(value);
          meta.deletionTimestamp(value);
          meta.isBeingDeleted(value);
          meta.labels(value);
          meta.annotations(value);
          meta.finalizers(value);
          meta.hasFinalizer(value, "f");
          meta.ownerReferences(value);
          meta.controllerOf(value);
          objectKey(value);
          getConditions(value);
          getCondition(value, "Ready");
          isConditionTrue(value, "Ready");
          isKubeObject(value);
          valueType(value);
          deepCopy(value);
        },
        `reader threw on ${String(valueType(value))}`,
      );
    }
  });

  it("readers degrade to absent on mistyped metadata", () => {
    const obj = odd[18];
    assert.equal(meta.name(obj), undefined);
    assert.equal(meta.namespace(obj), undefined);
    assert.equal(meta.generation(obj), undefined);
    assert.deepEqual(meta.labels(obj), {});
    assert.deepEqual(meta.finalizers(obj), []);
    assert.deepEqual(meta.ownerReferences(obj), []);
    assert.equal(objectKey(obj), "");
    assert.deepEqual(getConditions(odd[22]), []);
  });

  it("no writer throws on any odd object, and a refusal leaves the object as it was", () => {
    for (const value of odd) {
      if (typeof value !== "object" || value === null) continue;
      const edits = [
        () => nested.set(value, "v", "metadata", "labels", "a"),
        () => nested.set(value, "v", "metadata", 0),
        () => nested.remove(value, "metadata", "name"),
        () => meta.setLabels(value, { a: "b" }),
        () => meta.setAnnotations(value, { a: "b" }),
        () => meta.setFinalizers(value, ["f"]),
        () => meta.addFinalizer(value, "f"),
        () => meta.removeFinalizer(value, "f"),
        () => setCondition(value, { type: "Ready", status: "True" }, { now: clock }),
        () => removeCondition(value, "Ready"),
      ];
      for (const edit of edits) {
        const before: unknown = deepCopy(value);
        let result: { ok: boolean } | undefined;
        assert.doesNotThrow(() => {
          result = edit();
        });
        if (result?.ok === false) assert.deepEqual(value, before);
      }
    }
  });

  for (const payload of payloads) {
    it(`nothing pollutes a prototype when handling ${payload}`, () => {
      const obj = JSON.parse(payload);
      deepCopy(obj);
      nested.stringMap(obj, "metadata", "labels");
      meta.labels(obj);
      meta.setLabels(obj, JSON.parse('{"__proto__": "yes"}'));
      meta.setAnnotations(obj, JSON.parse('{"__proto__": "yes", "constructor": "c"}'));
      meta.addFinalizer(obj, "__proto__");
      setCondition(obj, { type: "Ready", status: "False" }, { now: clock });
      setCondition(obj, { type: "__proto__", status: "True" }, { now: clock });
      getConditions(obj);
      nested.set(obj, "yes", "__proto__", "polluted");
      nested.set(obj, "yes", "constructor", "prototype", "polluted");
      nested.set(obj, "yes", "prototype", "polluted");
      nested.remove(obj, "__proto__");
      nested.remove(obj, "constructor", "prototype");
      assert.equal(Object.getPrototypeOf(obj), Object.prototype);
    });
  }

  it("setting a __proto__ key creates an own property and leaves the prototype alone", () => {
    const obj: Record<string, unknown> = {};
    assert.deepEqual(nested.set(obj, { polluted: "yes" }, "__proto__"), { ok: true, changed: true });
    assert.equal(Object.getPrototypeOf(obj), Object.prototype);
    assert.ok(Object.hasOwn(obj, "__proto__"));
    assert.equal(obj.polluted, undefined);
    assert.deepEqual(nested.get(obj, "__proto__", "polluted"), { found: true, value: "yes" });
    assert.equal(JSON.stringify(obj), '{"__proto__":{"polluted":"yes"}}');
  });

  it("setting through constructor and prototype keys creates own maps", () => {
    const obj: Record<string, unknown> = {};
    nested.set(obj, "yes", "constructor", "prototype", "polluted");
    assert.equal(JSON.stringify(obj), '{"constructor":{"prototype":{"polluted":"yes"}}}');
    assert.equal(Object.getPrototypeOf(obj), Object.prototype);
  });

  it("removing a __proto__ key removes only the own key", () => {
    const obj = JSON.parse('{"__proto__": 1, "a": 2}');
    assert.deepEqual(nested.remove(obj, "__proto__"), { ok: true, changed: true });
    assert.deepEqual(Object.keys(obj), ["a"]);
    assert.equal(Object.getPrototypeOf(obj), Object.prototype);
    assert.deepEqual(nested.remove({ a: 1 }, "__proto__"), { ok: true, changed: false });
  });

  it("labels and annotations with a __proto__ key round-trip as data", () => {
    const obj = { metadata: {} };
    meta.setLabels(obj, JSON.parse('{"__proto__": "p", "app": "web"}'));
    assert.equal(JSON.stringify(obj), '{"metadata":{"labels":{"__proto__":"p","app":"web"}}}');
    const read = meta.labels(obj);
    assert.equal(Object.getPrototypeOf(read), Object.prototype);
    assert.deepEqual(Object.entries(read), [
      ["__proto__", "p"],
      ["app", "web"],
    ]);
  });

  it("a numeric string is never read as a number, nor an array as a map", () => {
    const obj = JSON.parse('{"spec": {"replicas": "3", "selector": ["app"]}, "metadata": {"generation": "2"}}');
    assert.equal(nested.integer(obj, "spec", "replicas").found, false);
    assert.equal(nested.number(obj, "spec", "replicas").found, false);
    assert.equal(nested.map(obj, "spec", "selector").found, false);
    assert.equal(nested.get(obj, "spec", "selector", "app").found, false);
    assert.equal(meta.generation(obj), undefined);
  });
});
