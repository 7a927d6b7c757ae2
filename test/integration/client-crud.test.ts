/** The dynamic client's reads, writes, deletes and subresources, on a CRD and on built-in kinds, against a real server. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DynamicClient, isStatus } from "../../src/client/index.js";
import { loadConfig } from "../../src/config/index.js";
import { isConflict, isNotFound, Transport } from "../../src/http/index.js";
import type { KubeObject } from "../../src/object/types.js";
import {
  type Client,
  type ClientEnv,
  clientEnv,
  configMap,
  configMapsGvr,
  createWidgetCrd,
  deployment,
  deploymentsGvr,
  type WidgetKind,
  widget,
} from "../support/client.js";
import { rejectsWith } from "../support/failure.js";
import { uniqueName } from "../support/wait.js";

const spec = (obj: KubeObject) => obj.spec as Record<string, unknown>;
const status = (obj: KubeObject) => obj.status as Record<string, unknown> | undefined;
const data = (obj: KubeObject) => obj.data as Record<string, string>;

describe("dynamic client: create, get, update, delete", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let widgets: Client;
  let configMaps: Client;
  let deployments: Client;

  before(async () => {
    env = await clientEnv("client-crud");
    kind = await createWidgetCrd(env.client);
    widgets = env.client.resource(kind.gvr).namespace(env.namespace);
    configMaps = env.client.resource(configMapsGvr).namespace(env.namespace);
    deployments = env.client.resource(deploymentsGvr).namespace(env.namespace);
  });

  after(async () => {
    await kind?.remove();
    await env?.close();
  });

  it("creates, reads, updates, lists and deletes a custom object", async () => {
    const created = await widgets.create(widget(kind, "w1", { size: 1, replicas: 1, color: "red" }));
    assert.equal(created.kind, "Widget");
    assert.equal(created.apiVersion, kind.apiVersion);
    assert.equal(created.metadata.namespace, env.namespace);
    assert.ok(created.metadata.uid && created.metadata.resourceVersion);
    assert.equal(created.metadata.generation, 1);

    const read = await widgets.get("w1");
    assert.equal(read.metadata.uid, created.metadata.uid);
    assert.deepEqual(read.spec, { size: 1, replicas: 1, color: "red" });

    const updated = await widgets.update({ ...read, spec: { ...spec(read), size: 2 } });
    assert.equal(spec(updated).size, 2);
    assert.equal(updated.metadata.generation, 2, "a spec change bumps the generation");
    assert.notEqual(updated.metadata.resourceVersion, read.metadata.resourceVersion);

    const list = await widgets.list();
    assert.equal(list.kind, "WidgetList");
    assert.deepEqual(
      list.items.map((w) => w.metadata.name),
      ["w1"],
    );

    const deleted = await widgets.delete("w1");
    assert.ok(!isStatus(deleted) || deleted.status === "Success", JSON.stringify(deleted));
    await rejectsWith(widgets.get("w1"), "NotFound");
    await rejectsWith(widgets.delete("w1"), "NotFound");
  });

  it("creates, reads, updates and deletes a ConfigMap; delete answers with a Status", async () => {
    const created = await configMaps.create(configMap("cm1", { a: "1" }));
    assert.deepEqual(created.data, { a: "1" });
    const read = await configMaps.get("cm1");
    const updated = await configMaps.update({ ...read, data: { a: "2", b: "3" } });
    assert.deepEqual(updated.data, { a: "2", b: "3" });
    assert.deepEqual((await configMaps.get("cm1")).data, { a: "2", b: "3" });
    const deleted = await configMaps.delete("cm1");
    assert.ok(isStatus(deleted), "a ConfigMap delete returns a Status");
    assert.equal(deleted.status, "Success");
    assert.equal((deleted.details as { uid?: string }).uid, created.metadata.uid);
    assert.ok(isNotFound(await configMaps.get("cm1").catch((e: unknown) => e)));
  });

  it("creates, reads, updates and deletes a Deployment (apps/v1)", async () => {
    const created = await deployments.create(deployment("web", 2));
    assert.equal(created.kind, "Deployment");
    assert.equal(spec(created).replicas, 2);
    const read = await deployments.get("web");
    const template = spec(read).template as { spec: { containers: { name: string; image: string }[] } };
    const [first] = template.spec.containers;
    assert.ok(first);
    first.image = "registry.k8s.io/pause:3.9";
    const updated = await deployments.update(read);
    const images = (spec(updated).template as typeof template).spec.containers.map((c) => c.image);
    assert.deepEqual(images, ["registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.10"]);
    await deployments.delete("web", { propagationPolicy: "Background" });
    await rejectsWith(deployments.get("web"), "NotFound");
  });

  it("creates in the object's own namespace when the client names none, and round-trips names with colons", async () => {
    const anyNamespace = env.client.resource(configMapsGvr);
    const obj = configMap("own-ns");
    obj.metadata.namespace = env.namespace;
    const created = await anyNamespace.create(obj);
    assert.equal(created.metadata.namespace, env.namespace);
    assert.equal((await configMaps.get("own-ns")).metadata.uid, created.metadata.uid);

    // RBAC names may hold colons (system:...): the path must carry them to the right object.
    const roles = env.client.resource({ group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles" });
    const name = `kindwatch:${uniqueName("test")}`;
    try {
      await roles.create({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name } });
      assert.equal((await roles.get(name)).metadata.name, name);
    } finally {
      await roles.delete(name).catch(() => {});
    }
    await rejectsWith(roles.get(name), "NotFound");
  });

  it("update with a stale resourceVersion is a Conflict and changes nothing", async () => {
    const first = await configMaps.create(configMap("stale", { v: "1" }));
    await configMaps.update({ ...first, data: { v: "2" } });
    const err = await rejectsWith(configMaps.update({ ...first, data: { v: "3" } }), "Conflict");
    assert.equal(err.status, 409);
    assert.ok(isConflict(err));
    assert.match(err.message, /the object has been modified/);
    assert.deepEqual((await configMaps.get("stale")).data, { v: "2" });
  });

  it("update leaves status alone on a kind with a status subresource; updateStatus and patchStatus leave spec alone", async () => {
    const created = await widgets.create({
      ...widget(kind, "w-status", { size: 1, replicas: 1 }),
      status: { phase: "FromCreate" },
    });
    assert.equal(created.status, undefined, "create ignores status when the kind has a status subresource");

    const withStatus = await widgets.updateStatus({
      ...created,
      spec: { size: 99, replicas: 1 },
      status: { phase: "Running", replicas: 1 },
    });
    assert.deepEqual(withStatus.status, { phase: "Running", replicas: 1 });
    assert.equal(spec(withStatus).size, 1, "updateStatus ignores spec");
    assert.equal(withStatus.metadata.generation, created.metadata.generation, "a status change keeps the generation");

    const updated = await widgets.update({
      ...withStatus,
      spec: { size: 5, replicas: 1 },
      status: { phase: "Hacked" },
    });
    assert.equal(spec(updated).size, 5);
    assert.equal(status(updated)?.phase, "Running", "update ignores status");
    assert.equal(status(await widgets.getStatus("w-status"))?.phase, "Running");

    const patched = await widgets.patchStatus("w-status", { status: { phase: "Done" }, spec: { size: 7 } }, "merge");
    assert.equal(status(patched)?.phase, "Done");
    assert.equal(status(patched)?.replicas, 1, "a merge patch keeps the fields it does not name");
    assert.equal(spec(patched).size, 5, "patchStatus ignores spec");

    const applied = await widgets.applyStatus(
      { apiVersion: kind.apiVersion, kind: "Widget", metadata: { name: "w-status" }, status: { selector: "app=w" } },
      { fieldManager: "status-writer" },
    );
    assert.equal(status(applied)?.selector, "app=w");
    assert.equal(status(applied)?.phase, "Done");
    const managers = (applied.metadata.managedFields as { manager: string; subresource?: string }[]).filter(
      (m) => m.manager === "status-writer",
    );
    assert.deepEqual(
      managers.map((m) => m.subresource),
      ["status"],
    );
  });

  it("delete sends propagationPolicy: Orphan and Foreground leave the server's finalizer on the object", async () => {
    await deployments.create(deployment("orphan"));
    const orphaned = await deployments.delete("orphan", { propagationPolicy: "Orphan" });
    assert.ok(!isStatus(orphaned), "the object is still there, held by the orphan finalizer");
    assert.ok(orphaned.metadata.deletionTimestamp);
    assert.deepEqual(orphaned.metadata.finalizers, ["orphan"]);

    await deployments.create(deployment("foreground"));
    const foreground = await deployments.delete("foreground", { propagationPolicy: "Foreground" });
    assert.ok(!isStatus(foreground));
    assert.deepEqual(foreground.metadata.finalizers, ["foregroundDeletion"]);

    // There is no garbage collector in the test cluster: let the objects go by hand.
    for (const name of ["orphan", "foreground"]) {
      await deployments.patch(name, { metadata: { finalizers: null } }, "merge");
      await rejectsWith(deployments.get(name), "NotFound");
    }
  });

  it("delete preconditions: a uid or resourceVersion mismatch is a Conflict, a match deletes", async () => {
    const cm = await configMaps.create(configMap("guarded"));
    const wrongUid = "00000000-0000-0000-0000-000000000000";
    const err = await rejectsWith(configMaps.delete("guarded", { preconditions: { uid: wrongUid } }), "Conflict");
    assert.match(err.message, /UID/i);
    await configMaps.update({ ...cm, data: { changed: "yes" } });
    await rejectsWith(
      configMaps.delete("guarded", { preconditions: { resourceVersion: cm.metadata.resourceVersion } }),
      "Conflict",
    );
    assert.equal((await configMaps.get("guarded")).metadata.uid, cm.metadata.uid);
    await configMaps.delete("guarded", { preconditions: { uid: cm.metadata.uid } });
    await rejectsWith(configMaps.get("guarded"), "NotFound");
  });

  it("delete sends gracePeriodSeconds: a bound Pod waits out its grace period, 0 removes it", async () => {
    const pods = env.client.resource({ group: "", version: "v1", resource: "pods" }).namespace(env.namespace);
    await pods.create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "graceful" },
      // Bound to a node that does not exist: no kubelet will ever confirm the deletion.
      spec: { nodeName: "nowhere", containers: [{ name: "c", image: "registry.k8s.io/pause:3.10" }] },
    });
    const pending = await pods.delete("graceful", { gracePeriodSeconds: 120 });
    assert.ok(!isStatus(pending), "a graceful delete returns the pod, still there");
    assert.equal(pending.metadata.deletionGracePeriodSeconds, 120);
    assert.ok(pending.metadata.deletionTimestamp);
    await pods.get("graceful");
    await pods.delete("graceful", { gracePeriodSeconds: 0 });
    await rejectsWith(pods.get("graceful"), "NotFound");
  });

  it("a finalizer holds the object: delete returns it with a deletionTimestamp; removing the finalizer lets it go", async () => {
    const held = configMap("held");
    held.metadata.finalizers = ["kindwatch.dev/hold"];
    await configMaps.create(held);
    const deleting = await configMaps.delete("held");
    assert.ok(!isStatus(deleting), "the object comes back while a finalizer holds it");
    assert.equal(deleting.metadata.name, "held");
    assert.ok(deleting.metadata.deletionTimestamp);
    const still = await configMaps.get("held");
    assert.ok(still.metadata.deletionTimestamp);
    await configMaps.patch("held", [{ op: "remove", path: "/metadata/finalizers" }], "json");
    await rejectsWith(configMaps.get("held"), "NotFound");
  });

  it("deleteCollection with a label selector deletes only the matching objects", async () => {
    for (const [name, set] of [
      ["dc-a1", "a"],
      ["dc-a2", "a"],
      ["dc-b1", "b"],
      ["dc-b2", "b"],
    ] as const) {
      await configMaps.create(configMap(name, {}, { set }));
    }
    const result = await configMaps.deleteCollection({ labelSelector: "set=a" });
    assert.ok(result.kind === "ConfigMapList" || isStatus(result), JSON.stringify(result).slice(0, 200));
    const left = await configMaps.list({ labelSelector: "set" });
    assert.deepEqual(left.items.map((c) => c.metadata.name).sort(), ["dc-b1", "dc-b2"]);
    await configMaps.deleteCollection({ labelSelector: "set=b", dryRun: true });
    assert.equal((await configMaps.list({ labelSelector: "set" })).items.length, 2, "a dry run deletes nothing");
  });

  it("dryRun create, update, patch and delete persist nothing", async () => {
    const dry = await configMaps.create(configMap("dry", { v: "1" }), { dryRun: true });
    assert.equal(dry.metadata.name, "dry");
    assert.deepEqual(dry.data, { v: "1" });
    await rejectsWith(configMaps.get("dry"), "NotFound");

    const real = await configMaps.create(configMap("dry", { v: "1" }));
    const dryUpdate = await configMaps.update({ ...real, data: { v: "2" } }, { dryRun: true });
    assert.deepEqual(dryUpdate.data, { v: "2" });
    const dryPatch = await configMaps.patch("dry", { data: { v: "3" } }, "merge", { dryRun: true });
    assert.deepEqual(dryPatch.data, { v: "3" });
    await configMaps.delete("dry", { dryRun: true });
    const after = await configMaps.get("dry");
    assert.deepEqual(after.data, { v: "1" });
    assert.equal(after.metadata.resourceVersion, real.metadata.resourceVersion);
  });

  it("reads and writes the scale subresource of a Deployment", async () => {
    await deployments.create(deployment("scaled", 1));
    const scale = await deployments.getScale("scaled");
    assert.equal(scale.kind, "Scale");
    assert.equal(scale.apiVersion, "autoscaling/v1");
    assert.equal(scale.spec.replicas, 1);
    assert.equal(scale.status.selector, "app=scaled");
    // No controller-manager here: nothing has counted pods, and the Scale still says 0 rather than leaving it out.
    assert.equal(scale.status.replicas, 0);

    const patched = await deployments.patchScale("scaled", { spec: { replicas: 3 } }, "merge");
    assert.equal(patched.spec.replicas, 3);
    assert.equal(spec(await deployments.get("scaled")).replicas, 3);

    const updated = await deployments.updateScale("scaled", { ...patched, spec: { replicas: 5 } });
    assert.equal(updated.spec.replicas, 5);
    assert.equal(spec(await deployments.get("scaled")).replicas, 5);
    await rejectsWith(deployments.updateScale("scaled", { ...patched, spec: { replicas: 6 } }), "Conflict");

    // The API leaves out a 0 in spec.replicas: the type says it may be absent.
    const none = await deployments.updateScale("scaled", { ...updated, spec: { replicas: 0 } });
    assert.equal(none.spec.replicas, undefined);
    assert.equal((await deployments.getScale("scaled")).spec.replicas, undefined);
  });

  it("reads and writes the scale subresource of a custom kind (specReplicasPath, statusReplicasPath)", async () => {
    const created = await widgets.create(widget(kind, "w-scale", { replicas: 2 }));
    await widgets.updateStatus({ ...created, status: { replicas: 1, selector: "app=w-scale" } });
    const scale = await widgets.getScale("w-scale");
    assert.equal(scale.kind, "Scale");
    assert.equal(scale.spec.replicas, 2);
    assert.deepEqual(scale.status, { replicas: 1, selector: "app=w-scale" });

    await widgets.patchScale("w-scale", { spec: { replicas: 4 } }, "merge");
    assert.equal(spec(await widgets.get("w-scale")).replicas, 4);
    await widgets.patchScale("w-scale", [{ op: "replace", path: "/spec/replicas", value: 6 }], "json");
    assert.equal(spec(await widgets.get("w-scale")).replicas, 6);
  });

  it("reports Forbidden for a user RBAC does not allow, on reads, writes and watches alike", async () => {
    const user = await env.cluster.user(uniqueName("nobody"));
    const transport = new Transport(loadConfig({ kubeconfig: user.kubeconfigPath, env: {} }));
    try {
      const theirs = new DynamicClient(transport).resource(configMapsGvr).namespace(env.namespace);
      const err = await rejectsWith(theirs.list(), "Forbidden");
      assert.equal(err.status, 403);
      assert.equal(err.details.kind, "configmaps");
      await rejectsWith(theirs.get("anything"), "Forbidden");
      await rejectsWith(theirs.create(configMap("nope")), "Forbidden");
      await rejectsWith(theirs.watch().next(), "Forbidden");
    } finally {
      await transport.close();
    }
  });

  it("rejects calls it can tell are wrong before sending them", async () => {
    await assert.rejects(configMaps.update(configMap("")), TypeError);
    await assert.rejects(configMaps.get(".."), TypeError);
    await assert.rejects(configMaps.patch("x", {}, "merge", { force: true }), /server-side apply only/);
  });

  it("the data a ConfigMap holds survives a round trip byte for byte", async () => {
    const tricky = { unicode: "ünïcödé ✓ 日本", newlines: "a\nb\r\nc", json: '{"k": [1, 2]}', empty: "" };
    await configMaps.create(configMap("tricky", tricky));
    assert.deepEqual(data(await configMaps.get("tricky")), tricky);
  });
});
