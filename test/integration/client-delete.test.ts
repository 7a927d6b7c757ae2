/**
 * Deletes keep their connection: undici closes the connection after a DELETE that carries a body, so the client sends
 * delete options as query parameters (only preconditions need a body). The options must still take effect.
 */
import assert from "node:assert/strict";
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import { after, before, describe, it } from "node:test";
import type { ApiError } from "../../src/http/errors.js";
import { attachCluster } from "../../src/testing/index.js";
import { clientFor, configMapsGvr as configmaps, namespacesGvr as namespaces } from "../support/client.js";
import { uniqueName } from "../support/wait.js";

describe("delete", () => {
  const ns = uniqueName("delete");
  let conn: ReturnType<typeof clientFor>;

  before(async () => {
    const cluster = await attachCluster();
    conn = clientFor(cluster.kubeconfigPath);
    await conn.client.resource(namespaces).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  });
  after(() => conn.transport.close());

  const cms = () => conn.client.resource(configmaps).namespace(ns);
  const make = (name: string, finalizers?: string[]) =>
    cms().create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, ...(finalizers ? { finalizers } : {}) } });

  it("reuses its connection", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `reuse-${i}`);
    for (const name of names) await make(name);
    let connects = 0;
    const onConnect = () => connects++;
    subscribe("undici:client:beforeConnect", onConnect);
    try {
      for (const name of names) await cms().delete(name);
    } finally {
      unsubscribe("undici:client:beforeConnect", onConnect);
    }
    assert.ok(connects <= 1, `20 sequential deletes opened ${connects} connections`);
  });

  it("applies dryRun, propagationPolicy and gracePeriodSeconds from the query", async () => {
    await make("held", ["kindwatch.dev/hold"]);
    await cms().delete("held", { dryRun: true });
    assert.equal((await cms().get("held")).metadata.deletionTimestamp, undefined, "a dry run deletes nothing");
    const held = await cms().delete("held", { propagationPolicy: "Foreground", gracePeriodSeconds: 0 });
    assert.ok("metadata" in held && held.metadata.deletionTimestamp, "deletion began");
    assert.ok("metadata" in held && held.metadata.finalizers?.includes("foregroundDeletion"), "Foreground applied");
    await cms().patch("held", { metadata: { finalizers: null } }, "merge");
    await assert.rejects(cms().delete("x", { propagationPolicy: "Bogus" as "Orphan" }), (e: ApiError) => {
      assert.equal(e.kind, "Invalid");
      return true;
    });
  });

  it("sends preconditions in a body", async () => {
    const made = await make("guarded");
    await assert.rejects(cms().delete("guarded", { preconditions: { uid: "not-its-uid" } }), (e: ApiError) => {
      assert.equal(e.kind, "Conflict");
      return true;
    });
    await cms().delete("guarded", { preconditions: { uid: String(made.metadata.uid) } });
    await assert.rejects(cms().get("guarded"), (e: ApiError) => e.kind === "NotFound");
  });

  it("deletes a collection by label with options from the query", async () => {
    for (const name of ["c-1", "c-2"])
      await cms().create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels: { set: "c" } } });
    await cms().deleteCollection({ labelSelector: "set=c", dryRun: true });
    assert.equal((await cms().list({ labelSelector: "set=c" })).items.length, 2, "a dry run deletes nothing");
    await cms().deleteCollection({ labelSelector: "set=c" });
    assert.equal((await cms().list({ labelSelector: "set=c" })).items.length, 0);
  });
});
