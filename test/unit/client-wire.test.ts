/** The dynamic client's pure parts: event decoding, URL paths, queries, metadata and Status shapes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeWatchEvent, isStatus, listQuery, resourcePath } from "../../src/client/index.js";
import { toPartialObjectMetadata, toPartialObjectMetadataList } from "../../src/client/metadata.js";
import { ApiError } from "../../src/http/index.js";

describe("watch event decoding", () => {
  it("passes changes and bookmarks through with their object", () => {
    for (const type of ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"] as const) {
      const event = decodeWatchEvent({ type, object: { metadata: { name: "x" } } }, "WATCH /x");
      assert.equal(event.type, type);
      assert.deepEqual(event.object, { metadata: { name: "x" } });
    }
  });

  it("turns an ERROR event's Status into an ApiError of the right kind", () => {
    const expired = {
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      message: "too old resource version: 1 (200)",
      reason: "Expired",
      code: 410,
    };
    const event = decodeWatchEvent({ type: "ERROR", object: expired }, "WATCH /x");
    assert.equal(event.type, "ERROR");
    if (event.type !== "ERROR") return;
    assert.equal(event.error.kind, "Gone");
    assert.equal(event.error.status, 410);
    assert.equal(event.error.message, "too old resource version: 1 (200)");
    assert.equal(event.object, expired);
    const internal = decodeWatchEvent({ type: "ERROR", object: { kind: "Status", message: "boom" } }, "WATCH /x");
    assert.equal(internal.type === "ERROR" && internal.error.kind, "InternalError");
  });

  it("rejects events without a type, with an unknown type, or without an object", () => {
    assert.throws(() => decodeWatchEvent({ object: {} }, "WATCH /x"), ApiError);
    assert.throws(() => decodeWatchEvent({ type: "SYNC", object: {} }, "WATCH /x"), /unknown watch event type SYNC/);
    assert.throws(() => decodeWatchEvent({ type: "ADDED", object: null }, "WATCH /x"), /no object/);
    assert.throws(() => decodeWatchEvent([], "WATCH /x"), ApiError);
  });
});

describe("resource paths", () => {
  const cm = { group: "", version: "v1", resource: "configmaps" };
  const deploy = { group: "apps", version: "v1", resource: "deployments" };

  it("builds core, group, namespaced, named and subresource paths", () => {
    assert.equal(resourcePath(cm), "/api/v1/configmaps");
    assert.equal(resourcePath(cm, "ns"), "/api/v1/namespaces/ns/configmaps");
    assert.equal(resourcePath(deploy, "ns", "web", "scale"), "/apis/apps/v1/namespaces/ns/deployments/web/scale");
    assert.equal(resourcePath(deploy, undefined, "web"), "/apis/apps/v1/deployments/web");
  });

  it("escapes names and refuses ones that would address another path", () => {
    const roles = { group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles" };
    assert.equal(
      resourcePath(roles, undefined, "system:a/b?c"),
      "/apis/rbac.authorization.k8s.io/v1/clusterroles/system%3Aa%2Fb%3Fc",
    );
    for (const bad of ["", ".", ".."]) {
      assert.throws(() => resourcePath(cm, "ns", bad), TypeError, `name ${JSON.stringify(bad)}`);
      assert.throws(() => resourcePath(cm, bad === "" ? "." : bad, "x"), TypeError);
    }
    assert.throws(() => resourcePath({ ...cm, group: "a/../b" }), TypeError);
    assert.throws(() => resourcePath({ ...cm, resource: "config maps" }), TypeError);
    assert.throws(() => resourcePath(cm, "ns", "x", "status/../../secrets"), TypeError);
  });
});

describe("queries", () => {
  it("asks for bookmarks on watches by default and leaves watch parameters off lists", () => {
    const watch = listQuery({ labelSelector: "a=b", resourceVersion: "5", timeoutSeconds: 9 }, true);
    assert.equal(watch.watch, true);
    assert.equal(watch.allowWatchBookmarks, true);
    assert.equal(watch.labelSelector, "a=b");
    assert.equal(watch.timeoutSeconds, 9);
    assert.equal(listQuery({ allowWatchBookmarks: false }, true).allowWatchBookmarks, false);
    const list = listQuery({ limit: 10, continue: "t", sendInitialEvents: true }, false);
    assert.equal(list.watch, undefined);
    assert.equal(list.allowWatchBookmarks, undefined);
    assert.equal(list.sendInitialEvents, undefined);
    assert.equal(list.limit, 10);
    assert.equal(list.continue, "t");
  });

  it("asks for NotOlderThan with sendInitialEvents, which the server requires, unless told otherwise", () => {
    assert.equal(listQuery({ sendInitialEvents: true }, true).resourceVersionMatch, "NotOlderThan");
    assert.equal(
      listQuery({ sendInitialEvents: true, resourceVersionMatch: "Exact" }, true).resourceVersionMatch,
      "Exact",
    );
    assert.equal(listQuery({}, true).resourceVersionMatch, undefined);
  });
});

describe("metadata views and Status", () => {
  const full = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "a", namespace: "n", uid: "u", resourceVersion: "3" },
    data: { big: "x" },
  };

  it("cuts full objects down to PartialObjectMetadata when the server sent them whole", () => {
    assert.deepEqual(toPartialObjectMetadata(full, "GET /x"), {
      apiVersion: "meta.k8s.io/v1",
      kind: "PartialObjectMetadata",
      metadata: full.metadata,
    });
    const partial = { apiVersion: "meta.k8s.io/v1", kind: "PartialObjectMetadata", metadata: { name: "a" } };
    assert.equal(toPartialObjectMetadata(partial, "GET /x"), partial);
    assert.throws(() => toPartialObjectMetadata({ kind: "ConfigMap" }, "GET /x"), /no metadata/);
    const list = toPartialObjectMetadataList(
      { apiVersion: "v1", kind: "ConfigMapList", metadata: { resourceVersion: "9" }, items: [full] },
      "GET /x",
    );
    assert.equal(list.kind, "PartialObjectMetadataList");
    assert.deepEqual(list.metadata, { resourceVersion: "9" });
    assert.deepEqual(
      list.items.map((i) => [i.kind, i.data]),
      [["PartialObjectMetadata", undefined]],
    );
  });

  it("tells a Status from an object, even a custom kind named Status", () => {
    assert.ok(isStatus({ apiVersion: "v1", kind: "Status", status: "Success" }));
    assert.ok(isStatus({ apiVersion: "meta.k8s.io/v1", kind: "Status" }));
    assert.ok(!isStatus({ apiVersion: "example.com/v1", kind: "Status", metadata: {} }));
    assert.ok(!isStatus(full));
    assert.ok(!isStatus(null));
  });
});
