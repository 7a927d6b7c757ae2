/** Which kinds the engine watches, and how it selects their objects (namespaces, selectors). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ApiResource } from "../../src/discovery/types.js";
import { Recovery } from "../../src/http/recovery.js";
import type { KubeObject } from "../../src/object/types.js";
import { filtered, isUnavailable, isWatchable, objectScope, selected } from "../../src/watchall/filter.js";
import { obj, page, ScriptedListWatch } from "../support/listwatch.js";

function res(group: string, kind: string, extra: Partial<ApiResource> = {}): ApiResource {
  return {
    group,
    version: "v1",
    resource: `${kind.toLowerCase()}s`,
    kind,
    singular: kind.toLowerCase(),
    namespaced: true,
    verbs: ["get", "list", "watch"],
    shortNames: [],
    categories: [],
    subresources: [],
    preferred: true,
    ...extra,
  };
}

const widget = res("example.com", "Widget", { categories: ["all", "toys"] });
const gadget = res("other.io", "Gadget");
const node = res("", "Node", { namespaced: false });

describe("selected", () => {
  it("takes every kind without filters", () => {
    for (const r of [widget, gadget, node]) assert.equal(selected(r), true);
  });

  it("includes kinds named by group, kind, resource or category (any of them), case-insensitive for kinds", () => {
    assert.equal(selected(widget, { groups: ["example.com"] }), true);
    assert.equal(selected(gadget, { groups: ["example.com"] }), false);
    assert.equal(selected(widget, { kinds: ["widget"] }), true);
    assert.equal(selected(widget, { kinds: ["WIDGETS"] }), true);
    assert.equal(selected(widget, { categories: ["toys"] }), true);
    assert.equal(selected(gadget, { groups: ["example.com"], kinds: ["Gadget"] }), true);
    assert.equal(selected(node, { groups: [""] }), true, "the core group is named by the empty string");
  });

  it("a resource qualified by its group (`pods.` for the core group) names that group's resource only", () => {
    const namesake = res("other.io", "Widget");
    const pod = res("", "Pod");
    const metricsPod = res("metrics.k8s.io", "Pod");
    assert.equal(selected(widget, { kinds: ["widgets.example.com"] }), true);
    assert.equal(selected(namesake, { kinds: ["widgets.example.com"] }), false);
    assert.equal(selected(pod, { kinds: ["pods."] }), true);
    assert.equal(selected(metricsPod, { kinds: ["pods."] }), false);
    assert.equal(selected(metricsPod, { kinds: ["pods"] }), true, "unqualified, every group's");
  });

  it("excludes kinds named by the exclude filter, even when included", () => {
    assert.equal(selected(widget, undefined, { categories: ["toys"] }), false);
    assert.equal(selected(widget, { groups: ["example.com"] }, { kinds: ["Widget"] }), false);
    assert.equal(selected(gadget, undefined, { groups: ["example.com"] }), true);
  });

  it("a filter that names only namespaces selects every kind, but included namespaces leave cluster-scoped kinds out", () => {
    assert.equal(selected(widget, { namespaces: ["a"] }), true);
    assert.equal(selected(node, { namespaces: ["a"] }), false);
    assert.equal(selected(node, undefined, { namespaces: ["a"] }), true);
    assert.equal(selected(widget, {}), true, "an empty include filter limits nothing");
  });
});

describe("isWatchable and isUnavailable", () => {
  it("wants list and watch, and no subresource", () => {
    assert.equal(isWatchable(widget), true);
    assert.equal(isWatchable(res("x.io", "Review", { verbs: ["create"] })), false);
    assert.equal(isWatchable(res("x.io", "Thing", { verbs: ["list"] })), false);
    assert.equal(isWatchable({ ...widget, resource: "widgets/status" }), false);
  });

  it("tells group versions that discovery could not read", () => {
    const result = {
      groups: [],
      resources: [],
      source: "aggregated" as const,
      unavailable: [{ group: "metrics.k8s.io", version: "v1beta1", reason: "Stale" as const, message: "" }],
    };
    assert.equal(isUnavailable(result, "metrics.k8s.io", "v1beta1"), true);
    assert.equal(isUnavailable(result, "metrics.k8s.io", "v1"), false);
    assert.equal(isUnavailable(undefined, "metrics.k8s.io", "v1beta1"), false);
  });
});

describe("objectScope", () => {
  it("watches one included namespace as such, with the selectors given", () => {
    const scope = objectScope(true, {
      include: { namespaces: ["team-a"] },
      labelSelector: "app=x",
      fieldSelector: "metadata.name=w",
      metadataOnly: true,
    });
    assert.equal(scope.namespace, "team-a");
    assert.deepEqual(scope.selection, { labelSelector: "app=x", fieldSelector: "metadata.name=w", metadataOnly: true });
    assert.equal(scope.keep, undefined);
  });

  it("watches several included namespaces cluster-wide and keeps only their objects", () => {
    const scope = objectScope(true, { include: { namespaces: ["a", "b"] } });
    assert.equal(scope.namespace, undefined);
    const keep = scope.keep as (o: KubeObject) => boolean;
    assert.equal(keep(obj("x", "1", { namespace: "a" })), true);
    assert.equal(keep(obj("x", "1", { namespace: "c" })), false);
  });

  it("turns excluded namespaces into field selectors, and ignores namespaces for cluster-scoped kinds", () => {
    const scope = objectScope(true, { exclude: { namespaces: ["kube-system", "x"] }, fieldSelector: "a=b" });
    assert.deepEqual(scope.selection, {
      fieldSelector: "a=b,metadata.namespace!=kube-system,metadata.namespace!=x",
    });
    const cluster = objectScope(false, { include: { namespaces: ["a"] }, exclude: { namespaces: ["b"] } });
    assert.deepEqual(cluster, { namespace: undefined, selection: {}, keep: undefined });
  });
});

describe("filtered", () => {
  it("leaves rejected objects out of lists and watches, and lets bookmarks and errors through", async () => {
    const src = new ScriptedListWatch()
      .replyToList(page("5", [obj("a", "1", { namespace: "in" }), obj("b", "2", { namespace: "out" })]))
      .onWatch((w) =>
        w
          .push(
            { type: "ADDED", object: obj("c", "6", { namespace: "out" }) },
            { type: "MODIFIED", object: obj("a", "7", { namespace: "in" }) },
            { type: "BOOKMARK", object: obj("", "8") },
          )
          .end(),
      );
    const source = filtered(src, (o) => o.metadata.namespace === "in");
    const list = await source.list({});
    assert.deepEqual(
      list.items.map((o) => o.metadata.name),
      ["a"],
    );
    assert.equal(list.metadata.resourceVersion, "5");
    const seen: string[] = [];
    for await (const e of source.watch({})) seen.push(`${e.type} ${e.type === "ERROR" ? "" : e.object.metadata.name}`);
    assert.deepEqual(seen, ["MODIFIED a", "BOOKMARK "]);
    assert.equal(source.description, src.description);
  });

  it("keeps the source's recovery, so that a filtered watch is woken when the server is back too", async () => {
    const src = new ScriptedListWatch();
    src.recovery = new Recovery(async () => {});
    assert.equal(filtered(src, () => true).recovery, src.recovery);
    src.recovery.close();
  });
});
