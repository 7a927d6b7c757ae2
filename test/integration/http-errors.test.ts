/** Every typed error, produced by the real API server and decoded by the transport: kind, status, reason, message. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type AuthProvider, type ClusterConfig, loadConfig, staticAuth } from "../../src/config/index.js";
import {
  errorFromStatus,
  isAlreadyExists,
  isConflict,
  isForbidden,
  isGone,
  isInvalid,
  isNotFound,
  isUnauthorized,
  jsonLines,
  type RetryEvent,
  Transport,
} from "../../src/http/index.js";
import { attachCluster, type ClusterAccess } from "../../src/testing/index.js";
import { crdManifest, objectSchema } from "../support/crd-manifest.js";
import { failure } from "../support/failure.js";
import { adminConfig, createNamespace, deletePath } from "../support/http.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("typed errors from the real API server", () => {
  let cluster: ClusterAccess;
  let config: ClusterConfig;
  let admin: Transport;
  const namespace = uniqueName("http-errors");
  const group = `${uniqueName("e")}.kindwatch.dev`;
  const crd = `gadgets.${group}`;
  const configmaps = `/api/v1/namespaces/${namespace}/configmaps`;
  const gadgets = `/apis/${group}/v1/namespaces/${namespace}/gadgets`;

  before(async () => {
    cluster = await attachCluster();
    config = adminConfig(cluster);
    admin = new Transport(config);
    await createNamespace(admin, namespace);
    const schema = objectSchema({
      spec: { size: { type: "integer", maximum: 10 }, color: { type: "string", enum: ["red", "blue"] } },
    });
    await admin.request({
      method: "POST",
      path: "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
      body: crdManifest({
        group,
        kind: "Gadget",
        plural: "gadgets",
        versions: [{ name: "v1", storage: true, schema }],
      }),
    });
    await waitFor("the Gadget kind to be served", async () => (await admin.json({ path: gadgets })) !== undefined);
  });

  after(async () => {
    await deletePath(admin, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`);
    await deletePath(admin, `/api/v1/namespaces/${namespace}`);
    await admin.close();
  });

  it("NotFound: getting a ConfigMap that does not exist", async () => {
    const err = await failure(admin.json({ path: `${configmaps}/missing` }));
    assert.ok(isNotFound(err));
    assert.equal(err.status, 404);
    assert.equal(err.reason, "NotFound");
    assert.equal(err.message, `configmaps "missing" not found (GET ${configmaps}/missing)`);
    assert.equal(err.details.name, "missing");
    assert.equal(err.details.kind, "configmaps");
    assert.equal(err.request, `GET ${configmaps}/missing`);
    assert.ok(!err.transient);
  });

  it("AlreadyExists: creating the same ConfigMap twice", async () => {
    const body = { metadata: { name: "twice" }, data: { a: "1" } };
    await admin.json({ method: "POST", path: configmaps, body });
    const err = await failure(admin.json({ method: "POST", path: configmaps, body }));
    assert.ok(isAlreadyExists(err));
    assert.equal(err.status, 409);
    assert.equal(err.reason, "AlreadyExists");
    assert.equal(err.message, 'configmaps "twice" already exists');
    assert.equal(err.details.name, "twice");
  });

  it("Conflict: updating with a stale resourceVersion", async () => {
    const created = (await admin.json({
      method: "POST",
      path: configmaps,
      body: { metadata: { name: "contended" }, data: { v: "1" } },
    })) as { metadata: { resourceVersion: string } };
    const stale = { metadata: { name: "contended", resourceVersion: created.metadata.resourceVersion }, data: {} };
    await admin.json({ method: "PUT", path: `${configmaps}/contended`, body: { ...stale, data: { v: "2" } } });
    const err = await failure(
      admin.json({ method: "PUT", path: `${configmaps}/contended`, body: { ...stale, data: { v: "3" } } }),
    );
    assert.ok(isConflict(err));
    assert.equal(err.status, 409);
    assert.equal(err.reason, "Conflict");
    assert.match(err.message, /^Operation cannot be fulfilled on configmaps "contended": the object has been modified/);
    assert.equal(err.request, `PUT ${configmaps}/contended`);
  });

  it("Gone: a watch from a resourceVersion older than the server keeps, as an ERROR event", async () => {
    // The watch cache of a kind made by this test starts at the revision it was made at, so revision 1 is too old.
    const stream = await admin.stream({ path: gadgets, query: { watch: 1, resourceVersion: "1" } });
    assert.equal(stream.status, 200, "the server answers with a stream and reports the error inside it");
    const events = jsonLines(stream.body);
    const first = (await events.next()).value as { type: string; object: unknown };
    stream.close();
    assert.equal(first.type, "ERROR");
    const err = errorFromStatus(stream.status, first.object, `GET ${gadgets}?watch=1`);
    assert.ok(isGone(err));
    assert.equal(err.status, 410);
    assert.equal(err.reason, "Expired");
    assert.match(err.message, /^too old resource version: 1 \(\d+\)$/);
    assert.ok(!err.transient, "retrying the same watch cannot help: relist");
  });

  it("Forbidden: a user without RBAC rights", async () => {
    const user = await cluster.user(uniqueName("nobody"));
    const transport = new Transport(loadConfig({ kubeconfig: user.kubeconfigPath }));
    try {
      const err = await failure(transport.json({ path: configmaps }));
      assert.ok(isForbidden(err));
      assert.equal(err.status, 403);
      assert.equal(err.reason, "Forbidden");
      assert.equal(err.details.kind, "configmaps");
      assert.ok(err.message.includes(`User "${user.name}" cannot list resource "configmaps"`), err.message);
      assert.ok(err.message.includes(`in the namespace "${namespace}"`), err.message);
    } finally {
      await transport.close();
    }
  });

  it("Unauthorized: a bogus bearer token, not retried since the credentials cannot change", async () => {
    const retries: RetryEvent[] = [];
    const bogus: ClusterConfig = {
      ...config,
      tls: { ...config.tls, cert: undefined, key: undefined },
      auth: staticAuth({ token: "not-a-real-token" }, "bearer token"),
      source: "a hand-made config",
    };
    const transport = new Transport(bogus, { onRetry: (e) => retries.push(e) });
    try {
      const err = await failure(transport.json({ path: "/api" }));
      assert.ok(isUnauthorized(err));
      assert.equal(err.status, 401);
      assert.equal(err.reason, "Unauthorized");
      assert.equal(
        err.message,
        "Unauthorized: the server rejected the bearer token of a hand-made config; renew the credentials or fix the kubeconfig user",
      );
      assert.equal(retries.length, 0);
    } finally {
      await transport.close();
    }
  });

  it("Unauthorized once, then fresh credentials from the provider: retried once and succeeds", async () => {
    await admin.json({
      method: "POST",
      path: `/api/v1/namespaces/${namespace}/serviceaccounts`,
      body: { metadata: { name: "rotating" } },
    });
    const review = (await admin.json({
      method: "POST",
      path: `/api/v1/namespaces/${namespace}/serviceaccounts/rotating/token`,
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 600 } },
    })) as { status: { token: string } };
    let token = "expired-token";
    let invalidations = 0;
    const rotating: AuthProvider = {
      description: "rotating test token",
      credentials: async () => ({ token }),
      invalidate: () => {
        invalidations++;
        token = review.status.token;
      },
    };
    const retries: RetryEvent[] = [];
    const transport = new Transport(
      { ...config, tls: { ...config.tls, cert: undefined, key: undefined }, auth: rotating },
      { onRetry: (e) => retries.push(e) },
    );
    try {
      const res = await transport.request({ path: "/api" });
      assert.equal(res.status, 200);
      assert.equal(invalidations, 1);
      assert.equal(retries.length, 1);
      assert.equal(retries[0]?.error.kind, "Unauthorized");
      assert.equal(retries[0]?.delayMs, 0);
    } finally {
      await transport.close();
    }
  });

  it("Invalid: a ConfigMap with a name the API server refuses, with the field at fault", async () => {
    const err = await failure(
      admin.json({ method: "POST", path: configmaps, body: { metadata: { name: "Not_A_Valid_Name" } } }),
    );
    assert.ok(isInvalid(err));
    assert.equal(err.status, 422);
    assert.equal(err.reason, "Invalid");
    assert.match(err.message, /^ConfigMap "Not_A_Valid_Name" is invalid: metadata.name: Invalid value/);
    assert.equal(err.details.kind, "ConfigMap");
    const cause = err.causes.find((c) => c.field === "metadata.name");
    assert.ok(cause, JSON.stringify(err.causes));
    assert.equal(cause.reason, "FieldValueInvalid");
    assert.match(cause.message ?? "", /RFC 1123/);
  });

  it("Invalid: a custom object that breaks its CRD's schema, with every field at fault", async () => {
    const err = await failure(
      admin.json({
        method: "POST",
        path: gadgets,
        body: {
          apiVersion: `${group}/v1`,
          kind: "Gadget",
          metadata: { name: "broken" },
          spec: { size: 99, color: "green" },
        },
      }),
    );
    assert.ok(isInvalid(err));
    assert.equal(err.status, 422);
    assert.equal(err.details.group, group);
    assert.equal(err.details.kind, "Gadget");
    const fields = new Map(err.causes.map((c) => [c.field, c]));
    assert.equal(fields.get("spec.size")?.reason, "FieldValueInvalid", JSON.stringify(err.causes));
    assert.match(fields.get("spec.size")?.message ?? "", /less than or equal to 10/);
    assert.equal(fields.get("spec.color")?.reason, "FieldValueNotSupported", JSON.stringify(err.causes));
    assert.match(err.message, /spec.size/);
    assert.match(err.message, /spec.color/);
  });
});
