/** Reading CRDs: the API server's version order (apimachinery's CompareKubeAwareVersionStrings) and what a CRD serves. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../../src/object/types.js";
import { compareKubeVersions, crdEssentials, crdResource, isEstablished } from "../../src/watchall/crds.js";
import { type CrdVersion, crdManifest } from "../support/crd-manifest.js";

describe("compareKubeVersions", () => {
  it("sorts GA before beta before alpha whatever the major, then major, then minor, highest first", () => {
    const versions = ["v10alpha3", "v1", "v11alpha2", "v10beta3", "v2", "v1beta1", "v1beta2", "v1alpha1", "v12"];
    assert.deepEqual(versions.sort(compareKubeVersions), [
      "v12",
      "v2",
      "v1",
      "v10beta3",
      "v1beta2",
      "v1beta1",
      "v11alpha2",
      "v10alpha3",
      "v1alpha1",
    ]);
  });

  it("agrees with apimachinery's own test table (a greater version sorts first)", () => {
    // From k8s.io/apimachinery/pkg/version/helpers_test.go: [v1, v2, v1 greater than v2].
    const table: [string, string, boolean][] = [
      ["v1", "v2", false],
      ["v2", "v1", true],
      ["v10", "v2", true],
      ["v1", "v2alpha1", true],
      ["v1", "v2beta1", true],
      ["v1alpha2", "v1alpha1", true],
      ["v1beta1", "v2alpha3", true],
      ["v1alpha10", "v1alpha2", true],
      ["v1beta10", "v1beta2", true],
      ["foo", "v1beta2", false],
      ["bar", "foo", true],
      ["version1", "version2", true],
      ["version1", "version10", true],
    ];
    for (const [a, b, greater] of table) {
      assert.equal(compareKubeVersions(a, b) < 0, greater, `${a} vs ${b}`);
      assert.equal(compareKubeVersions(b, a) < 0, !greater, `${b} vs ${a}`);
    }
  });

  it("puts versions that are not kube-like last, in byte order, and treats equal strings as equal", () => {
    assert.deepEqual(["b", "v1", "B", "a"].sort(compareKubeVersions), ["v1", "B", "a", "b"]);
    assert.equal(compareKubeVersions("v1", "v1"), 0);
    assert.ok(compareKubeVersions("v1alpha", "v1alpha1") > 0, "alpha without a number is not kube-like");
  });

  it("counts numbers beyond int64 as not kube-like, as strconv.Atoi fails on them", () => {
    assert.ok(compareKubeVersions("v99999999999999999999", "v1alpha1") > 0);
    assert.ok(compareKubeVersions("v9223372036854775807", "v1") < 0);
  });
});

function crd(versions: CrdVersion[], established = true): KubeObject {
  const spec = { group: "example.com", kind: "Widget", plural: "widgets", shortNames: ["wd"], categories: ["all"] };
  return {
    ...crdManifest({ ...spec, versions }),
    status: { conditions: [{ type: "Established", status: established ? "True" : "False" }] },
  };
}

describe("crdResource", () => {
  it("serves the first served version in the API server's order, with names, scope and subresources", () => {
    const r = crdResource(
      crd([
        { name: "v1beta1", served: true },
        { name: "v1", served: true, subresources: { status: {} } },
        { name: "v2", served: false },
      ]),
    );
    assert.ok(r);
    assert.equal(r.version, "v1");
    assert.deepEqual(
      { group: r.group, resource: r.resource, kind: r.kind, namespaced: r.namespaced, singular: r.singular },
      { group: "example.com", resource: "widgets", kind: "Widget", namespaced: true, singular: "widget" },
    );
    assert.deepEqual(r.shortNames, ["wd"]);
    assert.deepEqual(r.categories, ["all"]);
    assert.deepEqual(
      r.subresources.map((s) => s.name),
      ["status"],
    );
    assert.ok(r.verbs.includes("list") && r.verbs.includes("watch"));
  });

  it("serves nothing until Established, or when no version is served", () => {
    assert.equal(isEstablished(crd([{ name: "v1", served: true }], false)), false);
    assert.equal(crdResource(crd([{ name: "v1", served: true }], false)), undefined);
    assert.equal(crdResource(crd([{ name: "v1", served: false }])), undefined);
    assert.equal(crdResource({ apiVersion: "x", kind: "y", metadata: {} }), undefined);
  });
});

describe("crdEssentials", () => {
  it("keeps what crdResource and isEstablished read, and an informer's key and versions, without the schemas", () => {
    const full: KubeObject = {
      ...crd([
        { name: "v1beta1", served: true },
        { name: "v1", served: true, subresources: { status: {}, scale: { specReplicasPath: ".spec.replicas" } } },
        { name: "v2", served: false },
      ]),
      status: {
        conditions: [
          { type: "NamesAccepted", status: "True", message: "no conflicts found" },
          { type: "Established", status: "True", message: "the initial names have been accepted" },
        ],
        acceptedNames: { kind: "Widget", plural: "widgets" },
        storedVersions: ["v1"],
      },
    };
    full.metadata = { ...full.metadata, uid: "u-1", resourceVersion: "42", managedFields: [{ manager: "kubectl" }] };
    const kept = crdEssentials(full);
    assert.deepEqual(crdResource(kept), crdResource(full));
    assert.ok(crdResource(kept));
    assert.equal(isEstablished(kept), true);
    assert.deepEqual(kept.metadata, { name: "widgets.example.com", uid: "u-1", resourceVersion: "42" });
    assert.ok(!JSON.stringify(kept).includes("openAPIV3Schema"), "no schema is kept");
    assert.ok(JSON.stringify(kept).length < JSON.stringify(full).length / 2);
    const unestablished = crdEssentials(crd([{ name: "v1", served: true }], false));
    assert.equal(isEstablished(unestablished), false);
    assert.equal(crdResource(unestablished), undefined);
  });
});
