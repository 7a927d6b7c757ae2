/**
 * Applying a multi-document manifest on a real server: a CRD and objects of it in one file (the CRD last, as people
 * write them), a ConfigMap, namespaces defaulted; errors that name the document; kubectl as the independent reader.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { applyManifest, type KindMapper, ManifestError } from "../../src/client/index.js";
import { type Cluster, connect } from "../../src/connect.js";
import { ApiError, isInvalid, isNotFound } from "../../src/http/index.js";
import { attachCluster, type ClusterAccess } from "../../src/testing/index.js";
import { namespacesGvr } from "../support/client.js";
import { kubectlJson } from "../support/kubectl.js";
import { uniqueName } from "../support/wait.js";

/** A manifest of Gadgets before their CRD, a ConfigMap without a namespace, and one Gadget in another namespace. */
function manifest(group: string, other: string): string {
  return `# objects first, their CRD last: the apply must reorder
apiVersion: ${group}/v1
kind: Gadget
metadata:
  name: first
spec:
  size: 1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
---
apiVersion: ${group}/v1
kind: Gadget
metadata:
  name: elsewhere
  namespace: ${other}
spec:
  size: 2
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.${group}
spec:
  group: ${group}
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
`;
}

describe("applyManifest", () => {
  let access: ClusterAccess;
  let cluster: Cluster;
  const ns = uniqueName("manifest");
  const other = uniqueName("manifest-other");
  const group = `${uniqueName("m")}.kindwatch.dev`;

  before(async () => {
    access = await attachCluster();
    cluster = connect({ kubeconfig: access.kubeconfigPath, env: {} });
    for (const name of [ns, other]) {
      await cluster.resource(namespacesGvr).create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    }
  });

  after(async () => {
    const crds = cluster.resource({
      group: "apiextensions.k8s.io",
      version: "v1",
      resource: "customresourcedefinitions",
    });
    await crds.delete(`gadgets.${group}`).catch(() => {});
    for (const name of [ns, other])
      await cluster
        .resource(namespacesGvr)
        .delete(name)
        .catch(() => {});
    await cluster.close();
  });

  it("applies a CRD and its objects from one manifest, the CRD first, namespaces defaulted", async () => {
    const results = await cluster.applyManifest(manifest(group, other), {
      fieldManager: "manifest-test",
      namespace: ns,
    });
    assert.deepEqual(
      results.map((r) => [r.document, r.object.kind, r.object.metadata.namespace, r.object.metadata.name]),
      [
        [1, "Gadget", ns, "first"],
        [2, "ConfigMap", ns, "settings"],
        [3, "Gadget", other, "elsewhere"],
        [4, "CustomResourceDefinition", undefined, `gadgets.${group}`],
      ],
      "every object, in manifest order, in its own namespace or the default one",
    );
    assert.deepEqual(
      results.map((r) => [r.resource.resource, r.resource.namespaced]),
      [
        ["gadgets", true],
        ["configmaps", true],
        ["gadgets", true],
        ["customresourcedefinitions", false],
      ],
    );
    const managers = results.map((r) =>
      r.object.metadata.managedFields?.map((m) => (m as { manager: string }).manager),
    );
    assert.ok(
      managers.every((m) => m?.includes("manifest-test")),
      "applied by the given field manager",
    );

    const gadgets = await kubectlJson<{ items: { metadata: { name: string; namespace: string } }[] }>(
      access.kubeconfigPath,
      ["get", `gadgets.${group}`, "-A"],
    );
    assert.deepEqual(
      gadgets.items.map((g) => `${g.metadata.namespace}/${g.metadata.name}`).sort(),
      [`${ns}/first`, `${other}/elsewhere`].sort(),
      "kubectl sees the Gadgets",
    );
    const cm = await kubectlJson<{ data: Record<string, string> }>(access.kubeconfigPath, [
      "get",
      "configmap",
      "settings",
      "-n",
      ns,
    ]);
    assert.deepEqual(cm.data, { mode: "fast" });

    const again = await cluster.applyManifest(manifest(group, other), { fieldManager: "manifest-test", namespace: ns });
    // The CRD's own version moved when the server set its conditions; the objects' must not move.
    const versions = (list: typeof results) =>
      list.map((r) => [
        r.object.metadata.uid,
        r.object.kind === "Gadget" || r.object.kind === "ConfigMap" ? r.object.metadata.resourceVersion : "",
      ]);
    assert.deepEqual(versions(again), versions(results), "applying the same manifest again changes nothing");
  });

  it("waits for a new CRD's kind to show in discovery, which may lag its Established condition", async () => {
    const lagging = `${uniqueName("lag")}.kindwatch.dev`;
    let misses = 0;
    // Discovery that has not caught up yet answers as the RestMapper does for a kind it does not know: NotFound.
    const mapper: KindMapper = {
      resourceFor: async (ref, options) => {
        if (ref.group === lagging && misses < 3) {
          misses++;
          throw new ApiError({ kind: "NotFound", status: 0, message: `the server has no kind "${ref.kind}"` });
        }
        return cluster.mapper.resourceFor(ref, options);
      },
    };
    try {
      const results = await applyManifest(cluster.client, mapper, manifest(lagging, other), {
        fieldManager: "manifest-test",
        namespace: ns,
      });
      assert.equal(misses, 3);
      assert.deepEqual(
        results.map((r) => r.object.metadata.name),
        ["first", "settings", "elsewhere", `gadgets.${lagging}`],
      );
    } finally {
      const crds = cluster.resource({
        group: "apiextensions.k8s.io",
        version: "v1",
        resource: "customresourcedefinitions",
      });
      await crds.delete(`gadgets.${lagging}`).catch(() => {});
    }
  });

  it("defaults the namespace to the kubeconfig context's", async () => {
    const name = uniqueName("cm");
    const [result] = await cluster.applyManifest(`{apiVersion: v1, kind: ConfigMap, metadata: {name: ${name}}}`, {
      fieldManager: "manifest-test",
    });
    assert.equal(result?.object.metadata.namespace, cluster.config.namespace);
    await cluster
      .resource({ group: "", version: "v1", resource: "configmaps" })
      .namespace(cluster.config.namespace)
      .delete(name);
  });

  it("names the document that failed, keeps the server's error kind, and lists what was applied before", async () => {
    const unknown = `apiVersion: v1
kind: ConfigMap
metadata: {name: before-unknown}
---
apiVersion: nowhere.kindwatch.dev/v1
kind: Gizmo
metadata: {name: g1}
`;
    const err = await cluster.applyManifest(unknown, { fieldManager: "manifest-test", namespace: ns }).then(
      () => assert.fail("a kind the server does not serve must fail"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ManifestError, String(err));
    assert.ok(isNotFound(err), err.message);
    assert.equal(err.document, 2);
    assert.match(err.message, /^document 2 \(Gizmo g1\): the server has no kind "Gizmo\.v1\.nowhere\.kindwatch\.dev"/);
    assert.deepEqual(
      err.applied.map((r) => r.object.metadata.name),
      ["before-unknown"],
    );

    const rejected = `apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: Not_A_Name}
`;
    const invalid = await cluster.applyManifest(rejected, { fieldManager: "manifest-test", namespace: ns }).then(
      () => assert.fail("an invalid name must fail"),
      (e: unknown) => e,
    );
    assert.ok(invalid instanceof ManifestError && isInvalid(invalid), String(invalid));
    assert.equal(invalid.document, 2);
    assert.match(invalid.message, /^document 2 \(ConfigMap Not_A_Name\): ConfigMap "Not_A_Name" is invalid: /);
  });
});
