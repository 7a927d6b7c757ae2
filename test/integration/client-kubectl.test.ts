/**
 * kindwatch against an independent client, a real kubectl v1.35: what one writes the other reads, the Table columns
 * are the ones kubectl prints, and field managers from either side conflict as the server says.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ApiError } from "../../src/http/index.js";
import type { KubeObject } from "../../src/object/types.js";
import {
  type Client,
  type ClientEnv,
  clientEnv,
  collect,
  configMap,
  configMapsGvr,
  createWidgetCrd,
  deployment,
  deploymentsGvr,
  type WidgetKind,
  widget,
} from "../support/client.js";
import { kubectl, kubectlJson } from "../support/kubectl.js";

/** kubectl's table output as header cells and rows of cells (cells never hold spaces in these tests). */
function parseKubectlTable(stdout: string): { header: string[]; rows: string[][] } {
  const [head = "", ...rest] = stdout.trim().split("\n");
  return { header: head.trim().split(/\s+/), rows: rest.map((line) => line.trim().split(/\s+/)) };
}

describe("dynamic client cross-checked with kubectl", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let widgets: Client;
  let configMaps: Client;
  let deployments: Client;
  let k: (...args: string[]) => Promise<string>;

  before(async () => {
    env = await clientEnv("client-kubectl");
    kind = await createWidgetCrd(env.client);
    widgets = env.client.resource(kind.gvr).namespace(env.namespace);
    configMaps = env.client.resource(configMapsGvr).namespace(env.namespace);
    deployments = env.client.resource(deploymentsGvr).namespace(env.namespace);
    k = async (...args) => (await kubectl(env.cluster.kubeconfigPath, ["-n", env.namespace, ...args])).stdout;
  });

  after(async () => {
    await kind?.remove();
    await env?.close();
  });

  it("reads what kubectl creates", async () => {
    const manifest = [
      "apiVersion: v1",
      "kind: ConfigMap",
      "metadata: {name: from-kubectl, labels: {made-by: kubectl}}",
      'data: {greeting: hello, multi: "a\\nb"}',
      "---",
      `apiVersion: ${kind.apiVersion}`,
      "kind: Widget",
      "metadata: {name: from-kubectl}",
      "spec: {size: 7, color: green, tags: [alpha, beta]}",
    ].join("\n");
    await kubectl(env.cluster.kubeconfigPath, ["-n", env.namespace, "create", "-f", "-"], { input: manifest });

    const theirs = await kubectlJson<KubeObject>(env.cluster.kubeconfigPath, [
      "-n",
      env.namespace,
      "get",
      "configmap",
      "from-kubectl",
    ]);
    const ours = await configMaps.get("from-kubectl");
    assert.equal(ours.metadata.uid, theirs.metadata.uid);
    assert.deepEqual(ours.data, { greeting: "hello", multi: "a\nb" });
    assert.deepEqual(ours.metadata.labels, { "made-by": "kubectl" });

    const w = await widgets.get("from-kubectl");
    assert.deepEqual(w.spec, { size: 7, color: "green", tags: ["alpha", "beta"] });
    const names = (await widgets.listMetadata()).items.map((i) => i.metadata.name);
    assert.deepEqual(names, ["from-kubectl"]);
  });

  it("writes what kubectl reads", async () => {
    const cm = await configMaps.create(configMap("from-kindwatch", { answer: "42" }, { "made-by": "kindwatch" }));
    const theirs = await kubectlJson<KubeObject>(env.cluster.kubeconfigPath, [
      "-n",
      env.namespace,
      "get",
      "configmaps",
      "-l",
      "made-by=kindwatch",
    ]);
    const items = (theirs as unknown as { items: KubeObject[] }).items;
    assert.equal(items.length, 1);
    assert.equal(items[0]?.metadata.uid, cm.metadata.uid);
    assert.deepEqual(items[0]?.data, { answer: "42" });

    await deployments.create(deployment("kw-deploy", 2));
    await deployments.patchScale("kw-deploy", { spec: { replicas: 4 } }, "merge");
    assert.equal(await k("get", "deployment", "kw-deploy", "-o", "jsonpath={.spec.replicas}"), "4");

    await configMaps.delete("from-kindwatch");
    assert.equal(await k("get", "configmaps", "-l", "made-by=kindwatch", "-o", "name"), "");
  });

  it("sees kubectl's scale, label and delete through its own scale reads and watch", async () => {
    await deployments.create(deployment("k-scaled", 1));
    const { metadata } = await deployments.list();
    await k("scale", "deployment/k-scaled", "--replicas=3");
    assert.equal((await deployments.getScale("k-scaled")).spec.replicas, 3);
    await k("label", "deployment/k-scaled", "touched=yes");
    await k("delete", "deployment/k-scaled", "--wait=false");
    const events = await collect(
      deployments.watch({
        resourceVersion: metadata.resourceVersion,
        fieldSelector: "metadata.name=k-scaled",
        signal: AbortSignal.timeout(30_000),
      }),
      (seen) => seen.some((e) => e.type === "DELETED"),
    );
    const changes = events.filter((e) => e.type !== "BOOKMARK");
    assert.deepEqual(
      changes.map((e) => e.type),
      ["MODIFIED", "MODIFIED", "DELETED"],
    );
    const [scaled, labelled] = changes.map((e) => e.object as KubeObject);
    assert.equal((scaled?.spec as { replicas?: number } | undefined)?.replicas, 3);
    assert.equal(labelled?.metadata.labels?.touched, "yes");
  });

  it("gets the same Table columns and rows as kubectl get, for ConfigMaps and for a custom kind", async () => {
    for (const i of [1, 2]) await configMaps.create(configMap(`tbl-${i}`, { a: "1", b: "2" }, { tbl: "yes" }));
    const printed = parseKubectlTable(await k("get", "configmaps", "-l", "tbl=yes"));
    const table = await configMaps.table({ labelSelector: "tbl=yes" });
    const shown = table.columnDefinitions.filter((c) => c.priority === 0);
    assert.deepEqual(printed.header, ["NAME", "DATA", "AGE"]);
    assert.deepEqual(
      shown.map((c) => c.name.toUpperCase()),
      printed.header,
    );
    assert.deepEqual(
      table.rows.map((r) => [String(r.cells[0]), String(r.cells[1])]),
      printed.rows.map((r) => r.slice(0, 2)),
    );

    const made = await widgets.create(widget(kind, "tbl-w", { replicas: 5, color: "teal" }));
    await widgets.updateStatus({ ...made, status: { phase: "Ready" } });
    const resource = `widgets.${kind.group}`;
    const wide = parseKubectlTable(await k("get", resource, "tbl-w", "-o", "wide"));
    const narrow = parseKubectlTable(await k("get", resource, "tbl-w"));
    const wTable = await widgets.table({ name: "tbl-w" });
    const all = wTable.columnDefinitions.map((c) => c.name.toUpperCase());
    const shownW = wTable.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name.toUpperCase());
    assert.deepEqual(narrow.header, shownW);
    assert.deepEqual(narrow.header, ["NAME", "REPLICAS", "PHASE", "AGE"]);
    assert.deepEqual(wide.header, all);
    assert.deepEqual(
      wide.rows[0]?.filter((_, i) => all[i] !== "AGE"),
      ["tbl-w", "5", "Ready", "teal"],
    );
    assert.deepEqual(wTable.rows[0]?.cells.slice(0, 4), ["tbl-w", 5, "Ready", "teal"]);
  });

  it("conflicts with kubectl's server-side apply on a field kubectl's manager owns, until forced", async () => {
    const manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared}\ndata: {owner: kubectl}\n";
    await kubectl(
      env.cluster.kubeconfigPath,
      ["-n", env.namespace, "apply", "--server-side", "--field-manager=kubectl-team", "-f", "-"],
      { input: manifest },
    );
    const mine = { ...configMap("shared", { owner: "kindwatch" }), metadata: { name: "shared" } };
    const err = await configMaps.apply(mine, { fieldManager: "kindwatch-team" }).catch((e: unknown) => e);
    assert.ok(err instanceof ApiError && err.kind === "Conflict", String(err));
    assert.ok(
      err.causes.some((c) => c.message?.includes("kubectl-team") && c.field === ".data.owner"),
      JSON.stringify(err.causes),
    );
    await configMaps.apply(mine, { fieldManager: "kindwatch-team", force: true });
    assert.equal(await k("get", "configmap", "shared", "-o", "jsonpath={.data.owner}"), "kindwatch");
    const managers = await k(
      "get",
      "configmap",
      "shared",
      "--show-managed-fields",
      "-o",
      "jsonpath={.metadata.managedFields[*].manager}",
    );
    assert.ok(managers.split(" ").includes("kindwatch-team"), managers);
  });
});
