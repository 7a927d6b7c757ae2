/** Watch-all events as CloudEvents: attributes, stable ids, extensions, and the three data modes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CloudEventMaker, collectionPath, jsonPatch } from "../../src/sinks/cloudevent.js";
import type { KindInfo, ObjectEvent } from "../../src/watchall/types.js";

const widgets: KindInfo = {
  group: "example.com",
  version: "v1",
  kind: "Widget",
  resource: "widgets",
  namespaced: true,
};
const nodes: KindInfo = { group: "", version: "v1", kind: "Node", resource: "nodes", namespaced: false };
const at = new Date("2026-12-02T10:00:00.123Z");

function ev(
  type: ObjectEvent["type"],
  rv: string,
  spec: Record<string, unknown> = {},
  extra: Partial<ObjectEvent> = {},
): ObjectEvent {
  return {
    type,
    origin: "live",
    ...widgets,
    namespace: "ns",
    name: "w",
    resourceVersion: rv,
    object: {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name: "w", namespace: "ns", uid: "u-1", resourceVersion: rv },
      spec,
    },
    ...extra,
  };
}

/** Applies an RFC 6902 patch of add, remove and replace operations (what jsonPatch makes) to a copy of `doc`. */
function applyPatch(doc: unknown, ops: readonly { op: string; path: string; value?: unknown }[]): unknown {
  let root = structuredClone(doc);
  for (const { op, path, value } of ops) {
    if (path === "") {
      root = structuredClone(value);
      continue;
    }
    const tokens = path
      .slice(1)
      .split("/")
      .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
    const last = tokens.pop() as string;
    let parent = root as Record<string, unknown>;
    for (const t of tokens) parent = parent[t] as Record<string, unknown>;
    if (op === "remove") {
      assert.ok(last in parent, `remove ${path}: no such member`);
      delete parent[last];
    } else {
      if (op === "replace") assert.ok(last in parent, `replace ${path}: no such member`);
      parent[last] = structuredClone(value);
    }
  }
  return root;
}

describe("CloudEventMaker: object events", () => {
  it("makes a CloudEvents 1.0 event with type, source, subject, id, time and extensions", () => {
    const maker = new CloudEventMaker({ clusterName: "prod" });
    const e = ev("MODIFIED", "42", { n: 2 }, { changedPaths: ["spec.n", "metadata.labels.app"] });
    const d = maker.make(e, at);
    assert.equal(d.key, "u-1");
    const ce = d.event;
    assert.equal(ce.specversion, "1.0");
    assert.equal(ce.type, "dev.kindwatch.object.modified");
    assert.equal(ce.source, "kindwatch://prod/apis/example.com/v1/namespaces/ns/widgets");
    assert.equal(ce.subject, "ns/w");
    assert.equal(ce.id, "u-1/42");
    assert.equal(ce.time, "2026-12-02T10:00:00.123Z");
    assert.equal(ce.datacontenttype, "application/json");
    assert.deepEqual(ce.data, e.object);
    assert.equal(ce.kwgroup, "example.com");
    assert.equal(ce.kwversion, "v1");
    assert.equal(ce.kwkind, "Widget");
    assert.equal(ce.kwresource, "widgets");
    assert.equal(ce.kworigin, "live");
    assert.equal(ce.kwchanged, "spec.n,metadata.labels.app");
  });

  it("names the core group's collections /api/v1 and cluster-scoped objects by name alone", () => {
    const maker = new CloudEventMaker({ clusterName: "c" });
    const e: ObjectEvent = {
      type: "ADDED",
      origin: "initial",
      ...nodes,
      namespace: "",
      name: "n1",
      resourceVersion: "7",
      object: { apiVersion: "v1", kind: "Node", metadata: { name: "n1", uid: "u-n", resourceVersion: "7" } },
    };
    const ce = maker.make(e, at).event;
    assert.equal(ce.source, "kindwatch://c/api/v1/nodes");
    assert.equal(ce.subject, "n1");
    assert.equal(ce.type, "dev.kindwatch.object.added");
    assert.equal(ce.kwgroup, "");
    assert.equal(ce.kworigin, "initial");
    assert.equal(ce.kwchanged, undefined);
    assert.equal(collectionPath(e, "kube-system"), "/api/v1/namespaces/kube-system/nodes");
  });

  it("gives the same change the same id every time, and an inferred delete its own", () => {
    const a = new CloudEventMaker({ clusterName: "c" });
    const b = new CloudEventMaker({ clusterName: "c" });
    assert.equal(a.make(ev("ADDED", "5"), at).event.id, b.make(ev("ADDED", "5"), new Date()).event.id);
    assert.equal(a.make(ev("DELETED", "9"), at).event.id, "u-1/9");
    const inferred = a.make(ev("DELETED", "5", {}, { origin: "relist", finalStateUnknown: true }), at).event;
    assert.equal(inferred.id, "u-1/5-deleted");
    assert.equal(inferred.type, "dev.kindwatch.object.deleted");
    assert.equal(inferred.kworigin, "relist");
  });

  it("carries metadata only in metadata mode", () => {
    const maker = new CloudEventMaker({ clusterName: "c", data: "metadata" });
    const ce = maker.make(ev("ADDED", "5", { secret: "x" }), at).event;
    assert.deepEqual(ce.data, {
      apiVersion: "example.com/v1",
      kind: "Widget",
      metadata: { name: "w", namespace: "ns", uid: "u-1", resourceVersion: "5" },
    });
  });

  it("carries a JSON Patch from the last state delivered in patch mode, the whole object when none is known", () => {
    const maker = new CloudEventMaker({ clusterName: "c", data: "patch" });
    const first = ev("ADDED", "5", { n: 1, list: [1, 2], "a/b~c": "x", gone: true });
    const second = ev("MODIFIED", "6", { n: 2, list: [1, 2, 3], "a/b~c": "y", added: { deep: 1 } });
    const third = ev("DELETED", "7", { n: 2, list: [1, 2, 3], "a/b~c": "y", added: { deep: 1 } });
    const d1 = maker.make(first, at).event;
    assert.deepEqual(d1.data, first.object);
    assert.equal(d1.datacontenttype, "application/json");
    const d2 = maker.make(second, at).event;
    assert.equal(d2.datacontenttype, "application/json-patch+json");
    assert.ok(Array.isArray(d2.data));
    assert.deepEqual(applyPatch(first.object, d2.data as []), second.object);
    assert.ok(
      (d2.data as { path: string }[]).some((op) => op.path === "/spec/a~1b~0c"),
      "keys are escaped as JSON Pointer tokens",
    );
    const d3 = maker.make(third, at).event;
    assert.deepEqual(applyPatch(second.object, d3.data as []), third.object);
    // After a delete the object is forgotten: a new one of the same uid (never, but a resume) starts whole again.
    assert.deepEqual(maker.make(first, at).event.data, first.object);
  });
});

describe("CloudEventMaker: kind events", () => {
  it("makes kind events with their own types and ids", () => {
    const maker = new CloudEventMaker({ clusterName: "prod" });
    const cases = [
      ["KIND_ADDED", "added"],
      ["KIND_SYNCED", "synced"],
      ["KIND_VERSION_CHANGED", "versionchanged"],
      ["KIND_QUARANTINED", "quarantined"],
      ["KIND_REMOVED", "removed"],
    ] as const;
    for (const [type, short] of cases) {
      const d = maker.make({ type, ...widgets, reason: "why" }, at);
      assert.equal(d.event.type, `dev.kindwatch.kind.${short}`);
      assert.equal(d.event.id, `example.com/widgets/${short}/v1`);
      assert.equal(d.event.source, "kindwatch://prod/apis/example.com/v1/widgets");
      assert.equal(d.event.subject, "widgets.example.com");
      assert.equal(d.key, "example.com/widgets");
      assert.deepEqual(d.event.data, { ...widgets, reason: "why" });
    }
  });
});

describe("jsonPatch", () => {
  it("is empty for equal documents and replaces the root when the types differ", () => {
    assert.deepEqual(jsonPatch({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] }), []);
    assert.deepEqual(jsonPatch({ a: 1 }, [1]), [{ op: "replace", path: "", value: [1] }]);
    assert.deepEqual(jsonPatch({ a: 1, b: 2 }, { b: 3, c: null }), [
      { op: "remove", path: "/a" },
      { op: "replace", path: "/b", value: 3 },
      { op: "add", path: "/c", value: null },
    ]);
  });
});
