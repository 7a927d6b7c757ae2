/**
 * The ground everything else stands on: the harness's cluster is a real API server, with CRDs, custom objects and RBAC.
 * Talks raw HTTPS on purpose: the library's client is tested on top of this, not by it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { attachCluster, type ClusterAccess, type Credentials, simpleRequest } from "../../src/testing/index.js";
import { crdManifest, objectSchema } from "../support/crd-manifest.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("test cluster", () => {
  let cluster: ClusterAccess;
  const group = `${uniqueName("t")}.kindwatch.dev`;
  const crdName = `widgets.${group}`;
  const namespace = uniqueName("cluster-test");
  const call = (creds: Credentials, method: string, path: string, body?: unknown) =>
    simpleRequest(`${cluster.server}${path}`, { method, body, credentials: creds });
  const widgets = `/apis/${group}/v1/namespaces/${namespace}/widgets`;

  before(async () => {
    cluster = await attachCluster();
    const ns = await call(cluster.admin, "POST", "/api/v1/namespaces", { metadata: { name: namespace } });
    assert.equal(ns.status, 201, ns.text);
    const manifest = crdManifest({
      group,
      kind: "Widget",
      plural: "widgets",
      shortNames: ["wg"],
      versions: [{ name: "v1", storage: true, schema: objectSchema({ spec: { size: { type: "integer" } } }) }],
    });
    const crd = await call(cluster.admin, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", manifest);
    assert.equal(crd.status, 201, crd.text);
  });

  after(async () => {
    await call(cluster.admin, "DELETE", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`);
  });

  it("serves a version that says it is Kubernetes", async () => {
    const res = await call(cluster.admin, "GET", "/version");
    assert.equal(res.status, 200);
    assert.match(String((res.json as { gitVersion?: string }).gitVersion), /^v1\.\d+\.\d+/);
  });

  it("establishes a CRD and stores and returns a custom object", async () => {
    await waitFor("the CRD to be Established", async () => {
      const res = await call(
        cluster.admin,
        "GET",
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crdName}`,
      );
      const conditions = (res.json as { status?: { conditions?: { type: string; status: string }[] } }).status
        ?.conditions;
      return conditions?.some((c) => c.type === "Established" && c.status === "True");
    });
    const created = await waitFor("the new kind to be served", async () => {
      const res = await call(cluster.admin, "POST", widgets, {
        apiVersion: `${group}/v1`,
        kind: "Widget",
        metadata: { name: "first", labels: { app: "demo" } },
        spec: { size: 3 },
      });
      return res.status === 201 ? res : undefined;
    });
    const uid = (created.json as { metadata: { uid: string } }).metadata.uid;
    const read = await call(cluster.admin, "GET", `${widgets}/first`);
    assert.equal(read.status, 200);
    const obj = read.json as { metadata: { uid: string; labels: Record<string, string> }; spec: { size: number } };
    assert.equal(obj.metadata.uid, uid);
    assert.deepEqual(obj.metadata.labels, { app: "demo" });
    assert.equal(obj.spec.size, 3);
  });

  it("accepts a bare Pod in a new namespace, with no ServiceAccount made by hand", async () => {
    const pod = {
      metadata: { name: "bare" },
      spec: { containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }] },
    };
    // A full cluster's controller makes the `default` ServiceAccount shortly after the namespace: allow it a moment.
    const created = await waitFor(
      "the Pod to be accepted",
      async () => {
        const res = await call(cluster.admin, "POST", `/api/v1/namespaces/${namespace}/pods`, pod);
        return res.status === 201 ? res : undefined;
      },
      { timeoutMs: 10_000 },
    );
    assert.equal((created.json as { metadata: { name: string } }).metadata.name, "bare");
  });

  it("denies a user without RBAC rights with 403, and allows it once a role is bound", async () => {
    const user = await cluster.user(uniqueName("nobody"));
    const denied = await call(user.credentials, "GET", widgets);
    assert.equal(denied.status, 403, denied.text);
    const status = denied.json as { kind: string; reason: string; details?: { group?: string; kind?: string } };
    assert.equal(status.kind, "Status");
    assert.equal(status.reason, "Forbidden");
    assert.equal(status.details?.group, group);
    assert.equal(status.details?.kind, "widgets");

    const role = await call(cluster.admin, "POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`, {
      metadata: { name: "widget-reader" },
      rules: [{ apiGroups: [group], resources: ["widgets"], verbs: ["get", "list"] }],
    });
    assert.equal(role.status, 201, role.text);
    const binding = await call(
      cluster.admin,
      "POST",
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
      {
        metadata: { name: "widget-reader" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "widget-reader" },
        subjects: [user.subject],
      },
    );
    assert.equal(binding.status, 201, binding.text);
    // RBAC reads bindings through an informer: the grant takes effect shortly after the write.
    await waitFor(
      "the role binding to take effect",
      async () => (await call(user.credentials, "GET", widgets)).status === 200,
    );
    const write = await call(user.credentials, "DELETE", `${widgets}/first`);
    assert.equal(write.status, 403, "a read-only role must not allow deletes");
  });

  it("authenticates a minted user's groups from its certificate", async (t) => {
    if (!process.env.KINDWATCH_TEST_CLUSTER) {
      t.skip("needs a harness-started cluster: groups come from the CA the harness holds");
      return;
    }
    const user = await cluster.user(uniqueName("member"), ["kindwatch:readers"]);
    const review = await call(user.credentials, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "SelfSubjectReview",
    });
    assert.equal(review.status, 201, review.text);
    const info = (review.json as { status: { userInfo: { username: string; groups: string[] } } }).status.userInfo;
    assert.equal(info.username, user.name);
    assert.ok(info.groups.includes("kindwatch:readers"));
    assert.ok(info.groups.includes("system:authenticated"));
  });
});
