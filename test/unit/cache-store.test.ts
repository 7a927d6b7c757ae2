/** The store: objects by key, the namespace index, custom indexes kept right through every change, and listers. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keyOf, namespaceIndex, Store } from "../../src/cache/store.js";
import type { KubeObject } from "../../src/object/types.js";

function pod(
  namespace: string | undefined,
  name: string,
  extra: { node?: string; labels?: Record<string, string> } = {},
) {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, ...(namespace ? { namespace } : {}), ...(extra.labels ? { labels: extra.labels } : {}) },
    spec: { ...(extra.node ? { nodeName: extra.node } : {}) },
  } satisfies KubeObject;
}

const byNode = (obj: KubeObject): string[] => {
  const node = (obj.spec as { nodeName?: string } | undefined)?.nodeName;
  return node ? [node] : [];
};
const byLabelValues = (obj: KubeObject): string[] => Object.values(obj.metadata.labels ?? {});

const names = (objs: readonly KubeObject[]): string[] => objs.map((o) => keyOf(o)).sort();

function put(store: Store, obj: KubeObject): KubeObject | undefined {
  return store.set(keyOf(obj), obj);
}

describe("keyOf", () => {
  it("is namespace/name, or the name alone for cluster-scoped objects", () => {
    assert.equal(keyOf(pod("ns", "a")), "ns/a");
    assert.equal(keyOf(pod(undefined, "node-1")), "node-1");
    assert.equal(keyOf({ apiVersion: "v1", kind: "X", metadata: { name: "n", namespace: "" } }), "n");
  });
});

describe("Store", () => {
  it("stores, replaces and deletes by key, returning what was there", () => {
    const store = new Store();
    const a1 = pod("ns", "a");
    const a2 = pod("ns", "a", { labels: { v: "2" } });
    assert.equal(put(store, a1), undefined);
    assert.equal(put(store, a2), a1);
    assert.equal(store.size, 1);
    assert.equal(store.get("ns/a"), a2);
    assert.equal(store.getByName("ns", "a"), a2);
    assert.deepEqual(store.keys(), ["ns/a"]);
    assert.deepEqual(store.list(), [a2]);
    assert.equal(store.delete("ns/a"), a2);
    assert.equal(store.delete("ns/a"), undefined);
    assert.equal(store.size, 0);
    assert.deepEqual(store.indexValues(namespaceIndex), []);
  });

  it('finds cluster-scoped objects by name with namespace "", and lists them as namespace ""', () => {
    const store = new Store();
    put(store, pod(undefined, "node-1"));
    put(store, pod("ns", "a"));
    assert.equal(store.getByName("", "node-1")?.metadata.name, "node-1");
    assert.deepEqual(names(store.listNamespace("")), ["node-1"]);
    assert.deepEqual(names(store.listNamespace("ns")), ["ns/a"]);
    assert.deepEqual(store.indexValues(namespaceIndex).sort(), ["", "ns"]);
  });

  it("keeps the namespace index and custom indexes right through set, replace and delete", () => {
    const store = new Store({ node: byNode });
    put(store, pod("a", "p1", { node: "n1" }));
    put(store, pod("a", "p2", { node: "n1" }));
    put(store, pod("b", "p3", { node: "n2" }));
    assert.deepEqual(names(store.byIndex("node", "n1")), ["a/p1", "a/p2"]);
    assert.deepEqual(names(store.listNamespace("a")), ["a/p1", "a/p2"]);

    put(store, pod("a", "p1", { node: "n2" })); // moved to another node
    assert.deepEqual(names(store.byIndex("node", "n1")), ["a/p2"]);
    assert.deepEqual(names(store.byIndex("node", "n2")), ["a/p1", "b/p3"]);

    put(store, pod("a", "p2")); // no longer indexed at all
    assert.deepEqual(store.byIndex("node", "n1"), []);
    assert.deepEqual(store.indexValues("node").sort(), ["n2"], "an index value with no objects left is dropped");

    store.delete("b/p3");
    assert.deepEqual(names(store.byIndex("node", "n2")), ["a/p1"]);
    assert.deepEqual(store.listNamespace("b"), []);
    assert.deepEqual(store.indexValues(namespaceIndex), ["a"]);
  });

  it("builds the namespace index on its first read from what is stored then, and keeps it from there", () => {
    const store = new Store();
    put(store, pod("a", "p1"));
    put(store, pod("a", "p2"));
    put(store, pod(undefined, "node-1"));
    put(store, pod("b", "p3"));
    store.delete("a/p2");
    put(store, pod("a", "p1", { labels: { v: "2" } }));
    assert.deepEqual(store.indexValues(namespaceIndex).sort(), ["", "a", "b"]);
    assert.deepEqual(names(store.listNamespace("a")), ["a/p1"]);
    put(store, pod("c", "p4"));
    store.delete("b/p3");
    assert.deepEqual(store.indexValues(namespaceIndex).sort(), ["", "a", "c"]);
    assert.deepEqual(names(store.listNamespace("c")), ["c/p4"]);
    assert.deepEqual(names(store.select("", "a")), ["a/p1"]);
  });

  it("answers every read while empty, before any object has been stored", () => {
    const store = new Store({ node: byNode });
    assert.deepEqual([store.size, store.keys(), store.list(), store.get("a/p1")], [0, [], [], undefined]);
    assert.deepEqual(store.stats(), { objects: 0, bytes: 0 });
    assert.deepEqual([store.listNamespace("a"), store.byIndex("node", "n1"), store.select("app=web")], [[], [], []]);
    assert.equal(store.delete("a/p1"), undefined);
    assert.equal(store.indexer(namespaceIndex)?.(pod(undefined, "n"))[0], "");
  });

  it("files an object under every value an index function gives, once even if repeated", () => {
    const store = new Store({ values: byLabelValues });
    put(store, pod("ns", "a", { labels: { x: "red", y: "blue", z: "red" } }));
    assert.deepEqual(names(store.byIndex("values", "red")), ["ns/a"]);
    assert.deepEqual(names(store.byIndex("values", "blue")), ["ns/a"]);
    put(store, pod("ns", "a", { labels: { x: "blue" } }));
    assert.deepEqual(store.byIndex("values", "red"), []);
    assert.deepEqual(store.indexValues("values"), ["blue"]);
  });

  it("computes an index added late for the objects already stored, then keeps it", () => {
    const store = new Store();
    put(store, pod("a", "p1", { node: "n1" }));
    put(store, pod("a", "p2", { node: "n2" }));
    store.addIndexer("node", byNode);
    assert.deepEqual(names(store.byIndex("node", "n1")), ["a/p1"]);
    put(store, pod("a", "p3", { node: "n1" }));
    store.delete("a/p1");
    assert.deepEqual(names(store.byIndex("node", "n1")), ["a/p3"]);
    assert.deepEqual(store.indexValues("node").sort(), ["n1", "n2"]);
  });

  it("unfiles an object that a caller changed in place before storing it again", () => {
    const store = new Store({ node: byNode });
    const p = pod("a", "p1", { node: "n1" });
    put(store, p);
    p.spec.nodeName = "n2";
    put(store, p);
    assert.deepEqual(store.byIndex("node", "n1"), [], "no stale entry under the old value");
    assert.deepEqual(names(store.byIndex("node", "n2")), ["a/p1"]);
    p.spec.nodeName = "n3";
    store.delete("a/p1");
    assert.deepEqual(store.indexValues("node"), []);
  });

  it("leaves everything as it was when an index function throws", () => {
    const store = new Store({
      picky: (obj) => {
        if (obj.metadata.labels?.bad) throw new Error("cannot index this");
        return [obj.metadata.name ?? ""];
      },
    });
    const good = pod("a", "p1");
    put(store, good);
    assert.throws(() => put(store, pod("a", "p1", { labels: { bad: "yes" } })), /cannot index this/);
    assert.equal(store.get("a/p1"), good);
    assert.deepEqual(names(store.byIndex("picky", "p1")), ["a/p1"]);
    assert.throws(
      () =>
        store.addIndexer("late", () => {
          throw new Error("late indexer broke");
        }),
      /late indexer broke/,
    );
    assert.throws(() => store.byIndex("late", "x"), /no index named late/, "a failed addIndexer adds nothing");
    store.addIndexer("late", () => ["ok"]);
    assert.deepEqual(names(store.byIndex("late", "ok")), ["a/p1"]);
  });

  it("refuses a second index with the same name and a lookup in an index that does not exist", () => {
    const store = new Store({ node: byNode });
    assert.throws(() => store.addIndexer("node", byNode), /index node exists already/);
    assert.throws(() => store.addIndexer(namespaceIndex, byNode), /exists already/);
    assert.throws(() => store.byIndex("nope", "x"), /no index named nope/);
    assert.deepEqual(store.indexValues("nope"), []);
  });

  it("selects by label selector, as text or parsed, in all namespaces or one", () => {
    const store = new Store();
    put(store, pod("a", "web", { labels: { app: "web", tier: "front" } }));
    put(store, pod("a", "db", { labels: { app: "db" } }));
    put(store, pod("b", "web", { labels: { app: "web" } }));
    put(store, pod("b", "bare"));
    assert.deepEqual(names(store.select("app=web")), ["a/web", "b/web"]);
    assert.deepEqual(names(store.select("app=web", "b")), ["b/web"]);
    assert.deepEqual(names(store.select("app!=web")), ["a/db", "b/bare"]);
    assert.deepEqual(names(store.select("tier notin (front)", "a")), ["a/db"]);
    assert.deepEqual(names(store.select("")), ["a/db", "a/web", "b/bare", "b/web"]);
    assert.deepEqual(names(store.select({ requirements: [{ key: "app", op: "exists" }] })), ["a/db", "a/web", "b/web"]);
    assert.deepEqual(store.select("app=web", "c"), []);
    assert.throws(() => store.select("app in (web"), TypeError);
  });
});

describe("Store.stats", () => {
  const json = (obj: unknown) => JSON.stringify(obj).length;

  it("counts objects and their JSON size through adds, replaces and deletes", () => {
    const store = new Store();
    assert.deepEqual(store.stats(), { objects: 0, bytes: 0 });
    const a = pod("ns", "a", { labels: { app: "web" } });
    const b = pod(undefined, "b", { node: "n1" });
    put(store, a);
    put(store, b);
    assert.deepEqual(store.stats(), { objects: 2, bytes: json(a) + json(b) });
    const bigger = pod("ns", "a", { labels: { app: "web", tier: "frontend" }, node: "n2" });
    put(store, bigger);
    assert.deepEqual(store.stats(), { objects: 2, bytes: json(bigger) + json(b) });
    store.delete("ns/a");
    assert.deepEqual(store.stats(), { objects: 1, bytes: json(b) });
    store.delete("ns/a");
    store.delete("b");
    assert.deepEqual(store.stats(), { objects: 0, bytes: 0 });
  });

  it("stays right whether stats() is read after every change or after many", () => {
    const store = new Store();
    const versions = [pod("ns", "a"), pod("ns", "a", { labels: { v: "2" } }), pod("ns", "a", { node: "n-three" })];
    const b = pod("ns", "b");
    put(store, versions[0] as KubeObject);
    assert.equal(store.stats().bytes, json(versions[0]));
    put(store, versions[1] as KubeObject);
    put(store, b);
    put(store, versions[2] as KubeObject);
    store.delete("ns/b");
    assert.deepEqual(store.stats(), { objects: 1, bytes: json(versions[2]) });
    put(store, b);
    store.delete("ns/b");
    put(store, b);
    assert.deepEqual(store.stats(), { objects: 2, bytes: json(versions[2]) + json(b) });
    assert.deepEqual(store.stats(), { objects: 2, bytes: json(versions[2]) + json(b) }, "a second read, the same");
  });

  it("subtracts what an object weighed when measured, even if the caller changed it in place since", () => {
    const store = new Store();
    const a = pod("ns", "a");
    put(store, a);
    const measured = store.stats().bytes;
    a.metadata.labels = { grown: "after it was stored" };
    assert.equal(store.stats().bytes, measured, "measured once per set");
    store.delete("ns/a");
    assert.deepEqual(store.stats(), { objects: 0, bytes: 0 });
  });

  it("is unchanged by a set that an index function refuses", () => {
    const store = new Store({
      picky: (obj) => {
        if (obj.metadata.labels?.bad) throw new Error("cannot index this");
        return [];
      },
    });
    const good = pod("a", "p1");
    put(store, good);
    assert.throws(() => put(store, pod("a", "p1", { labels: { bad: "yes, and long enough to weigh more" } })));
    assert.deepEqual(store.stats(), { objects: 1, bytes: json(good) });
  });
});

describe("Store: index values", () => {
  it("files objects under one, several or no values, and unfiles them all", () => {
    const store = new Store({ labelValues: byLabelValues });
    put(store, pod("a", "one", { labels: { x: "1" } }));
    put(store, pod("a", "two", { labels: { x: "1", y: "2" } }));
    put(store, pod("a", "none"));
    assert.deepEqual(names(store.byIndex("labelValues", "1")), ["a/one", "a/two"]);
    assert.deepEqual(names(store.byIndex("labelValues", "2")), ["a/two"]);
    put(store, pod("a", "two", { labels: { y: "3" } }));
    assert.deepEqual(names(store.byIndex("labelValues", "1")), ["a/one"]);
    assert.deepEqual(store.indexValues("labelValues").sort(), ["1", "3"]);
    for (const key of store.keys()) store.delete(key);
    assert.deepEqual(store.indexValues("labelValues"), []);
    assert.deepEqual(store.indexValues(namespaceIndex), []);
  });
});

describe("Store: refiling on update", () => {
  it("keeps an unchanged object where it was filed and moves a changed one, value by value", () => {
    const store = new Store({ labelValues: byLabelValues });
    put(store, pod("a", "p", { labels: { x: "1", y: "2" } }));
    put(store, pod("a", "p", { labels: { x: "1", y: "2" } }));
    assert.deepEqual(names(store.byIndex("labelValues", "1")), ["a/p"]);
    put(store, pod("a", "p", { labels: { x: "1", y: "3" } }));
    assert.deepEqual(store.indexValues("labelValues").sort(), ["1", "3"]);
    put(store, pod("b", "p", { labels: { x: "1", y: "3" } }));
    assert.deepEqual(names(store.listNamespace("a")), ["a/p"]);
    assert.deepEqual(names(store.listNamespace("b")), ["b/p"]);
  });

  it("keeps its own copy of the values an index function returned", () => {
    const shared = ["one", "two"];
    const store = new Store({ fixed: () => shared });
    put(store, pod("a", "p"));
    shared.push("three");
    shared[0] = "changed";
    assert.deepEqual(store.indexValues("fixed").sort(), ["one", "two"]);
    store.delete("a/p");
    assert.deepEqual(store.indexValues("fixed"), []);
  });
});
