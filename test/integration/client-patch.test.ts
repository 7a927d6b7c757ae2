/** The four patch types against a real server: JSON patch, merge patch, strategic merge and server-side apply. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
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

interface ManagedFields {
  manager: string;
  operation: string;
  subresource?: string;
  fieldsV1?: { "f:data"?: Record<string, unknown>; "f:spec"?: Record<string, unknown> };
}
const managed = (obj: KubeObject) => (obj.metadata.managedFields ?? []) as ManagedFields[];
const containers = (obj: KubeObject) =>
  (obj.spec as { template: { spec: { containers: { name: string; image: string }[] } } }).template.spec.containers;

describe("dynamic client: patch and apply", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let widgets: Client;
  let configMaps: Client;
  let deployments: Client;

  before(async () => {
    env = await clientEnv("client-patch");
    kind = await createWidgetCrd(env.client);
    widgets = env.client.resource(kind.gvr).namespace(env.namespace);
    configMaps = env.client.resource(configMapsGvr).namespace(env.namespace);
    deployments = env.client.resource(deploymentsGvr).namespace(env.namespace);
  });

  after(async () => {
    await kind?.remove();
    await env?.close();
  });

  it("applies a JSON patch (add, replace, remove, test), and a failing test op is Invalid and changes nothing", async () => {
    await configMaps.create(configMap("jp", { keep: "1", change: "old", drop: "x" }));
    const patched = await configMaps.patch(
      "jp",
      [
        { op: "test", path: "/data/change", value: "old" },
        { op: "replace", path: "/data/change", value: "new" },
        { op: "add", path: "/data/added", value: "a" },
        { op: "remove", path: "/data/drop" },
      ],
      "json",
    );
    assert.deepEqual(patched.data, { keep: "1", change: "new", added: "a" });

    const before = await configMaps.get("jp");
    const err = await rejectsWith(
      configMaps.patch(
        "jp",
        [
          { op: "test", path: "/data/change", value: "old" },
          { op: "replace", path: "/data/keep", value: "2" },
        ],
        "json",
      ),
      "Invalid",
    );
    assert.equal(err.status, 422);
    const after = await configMaps.get("jp");
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
    assert.deepEqual(after.data, before.data);

    await widgets.create(widget(kind, "jp-w", { tags: ["a"] }));
    const appended = await widgets.patch("jp-w", [{ op: "add", path: "/spec/tags/-", value: "b" }], "json");
    assert.deepEqual((appended.spec as { tags: string[] }).tags, ["a", "b"]);
  });

  it("applies a merge patch: null removes a key, lists are replaced whole", async () => {
    await widgets.create(widget(kind, "mp", { size: 1, color: "red", tags: ["a", "b"], settings: { x: "1", y: "2" } }));
    const patched = await widgets.patch(
      "mp",
      { spec: { color: null, tags: ["c"], settings: { y: null, z: "3" } } },
      "merge",
    );
    assert.deepEqual(patched.spec, { size: 1, tags: ["c"], settings: { x: "1", z: "3" } });
    await configMaps.create(configMap("mp", { a: "1", b: "2" }));
    const cm = await configMaps.patch("mp", { data: { a: null }, metadata: { labels: { patched: "yes" } } }, "merge");
    assert.deepEqual(cm.data, { b: "2" });
    assert.equal(cm.metadata.labels?.patched, "yes");
  });

  it("merges a Deployment's containers by name with a strategic merge patch, where a merge patch replaces them", async () => {
    await deployments.create(deployment("smp"));
    const sidecarOnly = { spec: { template: { spec: { containers: [{ name: "sidecar", image: "example/new:1" }] } } } };
    const strategic = await deployments.patch("smp", sidecarOnly, "strategic");
    assert.deepEqual(
      containers(strategic).map((c) => [c.name, c.image]),
      [
        ["app", "registry.k8s.io/pause:3.10"],
        ["sidecar", "example/new:1"],
      ],
    );
    const envOf = (obj: KubeObject) => (containers(obj)[0] as { env?: unknown }).env;
    assert.deepEqual(envOf(strategic), [{ name: "MODE", value: "a" }], "untouched containers keep their fields");

    const removed = await deployments.patch(
      "smp",
      { spec: { template: { spec: { containers: [{ name: "app", $patch: "delete" }] } } } },
      "strategic",
    );
    assert.deepEqual(
      containers(removed).map((c) => c.name),
      ["sidecar"],
    );

    await deployments.create(deployment("mp"));
    const merged = await deployments.patch("mp", sidecarOnly, "merge");
    assert.deepEqual(
      containers(merged).map((c) => c.name),
      ["sidecar"],
      "a merge patch replaces the list",
    );

    await widgets.create(widget(kind, "smp-w", { size: 1 }));
    await rejectsWith(widgets.patch("smp-w", { spec: { size: 2 } }, "strategic"), "UnsupportedMediaType");
  });

  it("server-side apply: a second manager conflicts on a field another owns, and force takes it over", async () => {
    const desired = (data: Record<string, string>) => ({ ...configMap("ssa", data), metadata: { name: "ssa" } });
    const first = await configMaps.apply(desired({ shared: "a", onlyA: "1" }), { fieldManager: "manager-a" });
    assert.deepEqual(first.data, { shared: "a", onlyA: "1" });
    const a = managed(first).find((m) => m.manager === "manager-a");
    assert.equal(a?.operation, "Apply");
    assert.ok(a?.fieldsV1?.["f:data"]?.["f:shared"], "manager-a owns data.shared");

    const err = await rejectsWith(
      configMaps.apply(desired({ shared: "b" }), { fieldManager: "manager-b" }),
      "Conflict",
    );
    assert.equal(err.status, 409);
    assert.ok(err.causes.length >= 1);
    assert.ok(
      err.causes.some((c) => c.reason === "FieldManagerConflict" && c.field === ".data.shared"),
      JSON.stringify(err.causes),
    );
    assert.ok(
      err.causes.some((c) => c.message?.includes('"manager-a"')),
      JSON.stringify(err.causes),
    );
    assert.deepEqual((await configMaps.get("ssa")).data, { shared: "a", onlyA: "1" });

    const forced = await configMaps.apply(desired({ shared: "b" }), { fieldManager: "manager-b", force: true });
    assert.deepEqual(forced.data, { shared: "b", onlyA: "1" });
    const owners = managed(forced);
    const b = owners.find((m) => m.manager === "manager-b");
    const aAfter = owners.find((m) => m.manager === "manager-a");
    assert.ok(b?.fieldsV1?.["f:data"]?.["f:shared"], "manager-b owns data.shared now");
    assert.ok(aAfter?.fieldsV1?.["f:data"]?.["f:onlyA"], "manager-a keeps data.onlyA");
    assert.equal(aAfter?.fieldsV1?.["f:data"]?.["f:shared"], undefined, "manager-a lost data.shared");
  });

  it("server-side apply creates, removes what a manager stops applying, takes YAML, and needs a fieldManager", async () => {
    const applied = (spec: Record<string, unknown>) => ({
      apiVersion: kind.apiVersion,
      kind: "Widget",
      metadata: { name: "applied" },
      spec,
    });
    const created = await widgets.apply(applied({ size: 1, color: "red" }), { fieldManager: "owner" });
    assert.deepEqual(created.spec, { size: 1, color: "red" });
    const second = await widgets.apply(applied({ size: 2 }), { fieldManager: "owner" });
    assert.deepEqual(second.spec, { size: 2 }, "a field the manager no longer applies is removed");

    const yaml = `apiVersion: ${kind.apiVersion}\nkind: Widget\nmetadata:\n  name: applied\nspec:\n  size: 3\n`;
    const fromYaml = await widgets.patch("applied", yaml, "apply", { fieldManager: "owner" });
    assert.deepEqual(fromYaml.spec, { size: 3 });

    const dry = await widgets.apply(applied({ size: 4 }), { fieldManager: "owner", dryRun: true });
    assert.deepEqual(dry.spec, { size: 4 });
    assert.deepEqual((await widgets.get("applied")).spec, { size: 3 }, "a dry-run apply persists nothing");

    await assert.rejects(widgets.apply(applied({ size: 5 }), {} as { fieldManager: string }), TypeError);
    await assert.rejects(widgets.patch("applied", applied({ size: 5 }), "apply"), /fieldManager/);
  });

  it("apply needs apiVersion, kind and metadata.name: the compiler refuses an object without them, as apply and the server do", async () => {
    const nameless = { apiVersion: "v1", kind: "ConfigMap", metadata: { generateName: "ssa-" }, data: { a: "1" } };
    // @ts-expect-error server-side apply names the object it applies: generateName is not enough
    const noName = configMaps.apply(nameless, { fieldManager: "m" });
    await assert.rejects(noName, /apply: the object has no metadata.name/);
    // @ts-expect-error the same for the status subresource
    const noStatusName = configMaps.applyStatus(nameless, { fieldManager: "m" });
    await assert.rejects(noStatusName, /applyStatus: the object has no metadata.name/);

    const kindless = { apiVersion: "v1", metadata: { name: "ssa-kindless" }, data: { a: "1" } };
    // @ts-expect-error the server needs the type too
    const noKind = configMaps.apply(kindless, { fieldManager: "m" });
    await rejectsWith(noKind, "BadRequest");
    await rejectsWith(configMaps.get("ssa-kindless"), "NotFound");
  });

  it("server-side apply on a Deployment merges containers by name across managers", async () => {
    const base = deployment("ssa-d");
    await deployments.apply(base, { fieldManager: "platform" });
    const sidecar = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "ssa-d" },
      spec: { template: { spec: { containers: [{ name: "sidecar", image: "example/sidecar:2" }] } } },
    };
    const merged = await deployments.apply(sidecar, { fieldManager: "sidecar-injector", force: true });
    assert.deepEqual(
      containers(merged).map((c) => [c.name, c.image]),
      [
        ["app", "registry.k8s.io/pause:3.10"],
        ["sidecar", "example/sidecar:2"],
      ],
    );
  });
});
