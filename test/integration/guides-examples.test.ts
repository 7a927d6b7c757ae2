/**
 * The guides' examples (docs/guides/): each guide shows its example exactly as the file is, the examples compile as a
 * user's strictest project would compile them (examples/tsconfig.json), and each runs against the real server.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type Cluster, connect } from "../../src/connect.js";
import { getCondition, getConditions } from "../../src/object/conditions.js";
import { attachCluster, type ClusterAccess } from "../../src/testing/index.js";
import { configMapsGvr, namespacesGvr } from "../support/client.js";
import { uniqueName } from "../support/wait.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const run = promisify(execFile);

/** Each guide and the example it shows. */
const guides: Record<string, string> = {
  "informers-and-listers.md": "informers-and-listers.ts",
  "shared-informer-factory.md": "shared-informer-factory.ts",
  "watch-all.md": "watch-all.ts",
  "server-side-apply-status-conditions.md": "server-side-apply.ts",
  "owner-references.md": "owner-references.ts",
  "test-harness.md": "test-harness.ts",
  "controllers.md": "label-summary-controller.ts",
};

/** The code blocks of `markdown` marked `<!-- example: examples/FILE -->`, by file. */
function markedBlocks(markdown: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const m of markdown.matchAll(/<!-- example: examples\/(\S+) -->\n```ts\n([\s\S]*?)```/g)) {
    blocks.set(m[1] as string, m[2] as string);
  }
  return blocks;
}

describe("guide examples", () => {
  let access: ClusterAccess;
  let cluster: Cluster;
  const databases = { group: "example.com", version: "v1", resource: "databases" };

  before(async () => {
    access = await attachCluster();
    cluster = connect({ kubeconfig: access.kubeconfigPath, env: {} });
    const crd = await readFile(`${root}examples/databases-crd.yaml`, "utf8");
    await cluster.applyManifest(crd, { fieldManager: "guides-test" });
  });
  after(() => cluster.close());

  /** Runs a compiled example in a namespace of its own; returns its output lines and the namespace. */
  async function example(file: string): Promise<{ lines: string[]; namespace: string }> {
    const namespace = uniqueName("guide");
    await cluster
      .resource(namespacesGvr)
      .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    const { stdout } = await run(process.execPath, [`${root}dist/examples/${file}`, namespace], {
      env: { ...process.env, KUBECONFIG: access.kubeconfigPath },
      timeout: 60_000,
    });
    return { lines: stdout.trim().split("\n"), namespace };
  }

  it("shows each example in its guide exactly, and the index links every guide", async () => {
    const index = await readFile(`${root}docs/guides/README.md`, "utf8");
    assert.deepEqual((await readdir(`${root}docs/guides`)).sort(), ["README.md", ...Object.keys(guides)].sort());
    for (const [guide, file] of Object.entries(guides)) {
      assert.ok(index.includes(`](${guide})`), `docs/guides/README.md links ${guide}`);
      const blocks = markedBlocks(await readFile(`${root}docs/guides/${guide}`, "utf8"));
      assert.deepEqual([...blocks.keys()], [file], guide);
      assert.equal(blocks.get(file), await readFile(`${root}examples/${file}`, "utf8"), guide);
    }
    assert.match(await readFile(`${root}README.md`, "utf8"), /\]\(docs\/guides\/README\.md\)/);
  });

  it("compiles every example with strict, exactOptionalPropertyTypes and noUncheckedIndexedAccess", async () => {
    const tsc = [`${root}node_modules/typescript/bin/tsc`, "-p", `${root}examples/tsconfig.json`];
    const shown = JSON.parse((await run(process.execPath, [...tsc, "--showConfig"])).stdout);
    for (const option of ["strict", "exactOptionalPropertyTypes", "noUncheckedIndexedAccess", "noEmit"]) {
      assert.equal(shown.compilerOptions[option], true, option);
    }
    for (const file of [...Object.values(guides), "label-summary-controller.test.ts"]) {
      assert.ok(shown.files.includes(`./${file}`), file);
    }
    const { stdout } = await run(process.execPath, tsc, { timeout: 120_000 });
    assert.equal(stdout, "");
  });

  it("informers and listers: handlers told the list and a live add, indexes and selectors read locally", async () => {
    const { lines, namespace } = await example("informers-and-listers.js");
    assert.deepEqual(lines, [
      "add db-settings (initial)",
      "add web-settings (initial)",
      "stored: db-settings, web-settings",
      "team web: web-settings",
      "team!=web: db-settings",
      "add web-flags (live)",
      "team web: web-settings, web-flags",
      "get: web-flags",
    ]);
    const stored = await cluster.resource(configMapsGvr).namespace(namespace).list({ labelSelector: "app=shop" });
    assert.deepEqual(stored.items.map((cm) => cm.metadata.name).sort(), ["db-settings", "web-flags", "web-settings"]);
  });

  it("shared informer factory: one informer per selection, stopped when its last holder lets go", async () => {
    const { lines } = await example("shared-informer-factory.js");
    assert.deepEqual(lines, [
      "billing and shipping share: true",
      "informers: 2",
      "shipping told: blog",
      "shipping told: shop",
      "all configmaps: 2, app=shop: 1",
      "after billing let go: 2 informers",
      "after everyone let go: 0 informers",
    ]);
  });

  it("watch-all: a restart from the checkpoint hears only what changed while it was down", async () => {
    const { lines, namespace } = await example("watch-all.js");
    assert.deepEqual(lines, [
      "first run: KIND_ADDED ConfigMap",
      "first run: ADDED ConfigMap cart (initial)",
      "first run: ADDED ConfigMap checkout (initial)",
      "first run: KIND_SYNCED ConfigMap",
      "second run: KIND_ADDED ConfigMap",
      "second run: MODIFIED ConfigMap cart (relist)",
      "second run: ADDED ConfigMap search (relist)",
      "second run: DELETED ConfigMap checkout (relist)",
      "second run: KIND_SYNCED ConfigMap",
    ]);
    const left = await cluster.resource(configMapsGvr).namespace(namespace).list();
    assert.deepEqual(left.items.map((cm) => cm.metadata.name).sort(), ["cart", "search"]);
  });

  it("server-side apply: spec and status by their own managers, conditions per type, conflicts unless forced", async () => {
    const { lines, namespace } = await example("server-side-apply.js");
    assert.deepEqual(lines, [
      "applied: generation 1",
      "Ready=False (Provisioning), observedGeneration 1",
      "Ready=True (Provisioned), observedGeneration 1",
      "Ready=True (Provisioned) again: nothing to write",
      "conditions: Ready, BackupReady",
      "transition time kept: true",
      "status writes leave the generation: 1",
      'conflict: Apply failed with 1 conflict: conflict with "shop-deployer": .spec.storageGB',
      "forced: storageGB 20",
    ]);
    const db = await cluster.resource(databases).namespace(namespace).get("orders");
    assert.deepEqual(db.spec, { engine: "postgres", storageGB: 20 });
    assert.deepEqual(
      getConditions(db).map((c) => [c.type, c.status]),
      [
        ["Ready", "True"],
        ["BackupReady", "True"],
      ],
    );
    assert.deepEqual(
      [getCondition(db, "Ready")?.reason, getCondition(db, "Ready")?.observedGeneration],
      ["Healthy", 1],
    );
    const managers = (db.metadata.managedFields ?? []).map((f) => {
      const { manager, operation, subresource } = f as { manager: string; operation: string; subresource?: string };
      return `${manager} ${operation}${subresource ? ` ${subresource}` : ""}`;
    });
    assert.deepEqual(managers.sort(), [
      "backup-operator Apply status",
      "database-controller Apply status",
      "ops Apply",
      "shop-deployer Apply",
    ]);
  });

  it("owner references: the dependent names its controller by uid, and its changes map to the owner", async () => {
    // The bare test plane has no kube-controller-manager: garbage collection is not part of this test.
    const { lines, namespace } = await example("owner-references.js");
    assert.deepEqual(lines, [
      "orders-settings is controlled by Database orders",
      "orders owns: orders-settings",
      `reconcile Database ${namespace}/orders: orders-settings changed`,
    ]);
    const owner = await cluster.resource(databases).namespace(namespace).get("orders");
    const dependent = await cluster.resource(configMapsGvr).namespace(namespace).get("orders-settings");
    assert.deepEqual(dependent.metadata.ownerReferences, [
      {
        apiVersion: "example.com/v1",
        kind: "Database",
        name: "orders",
        uid: owner.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it("test harness: a test file that starts and stops a cluster of its own", { timeout: 240_000 }, async () => {
    // Run as a user runs it, not as a subtest of this run: the runner's NODE_TEST_CONTEXT would make it report to us.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const { stdout } = await run(process.execPath, ["--test-reporter=tap", `${root}dist/examples/test-harness.js`], {
      env,
      timeout: 230_000,
    });
    const results = stdout.split("\n").filter((line) => /^(ok|not ok) \d|^# (pass|fail) /.test(line));
    assert.deepEqual(results, [
      "ok 1 - keeps what the client writes",
      "ok 2 - forbids what RBAC does not grant",
      "# pass 2",
      "# fail 0",
    ]);
  });

  it("controllers: the label-summary controller's test, on a cluster of its own", { timeout: 240_000 }, async () => {
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const test = `${root}dist/examples/label-summary-controller.test.js`;
    const { stdout } = await run(process.execPath, ["--test-reporter=tap", test], { env, timeout: 230_000 });
    const results = stdout.split("\n").filter((line) => /^\s*(ok|not ok) \d|^# (pass|fail) /.test(line));
    assert.deepEqual(
      results.map((line) => line.trim()),
      [
        "ok 1 - writes an owned summary, follows label changes, and removes it through the finalizer on delete",
        "ok 2 - leaves objects without the label alone, and lets go of one whose label is taken off",
        "ok 1 - summaries of configmaps",
        "ok 1 - writes an owned summary, follows label changes, and removes it through the finalizer on delete",
        "ok 2 - leaves objects without the label alone, and lets go of one whose label is taken off",
        "ok 3 - reports the summary in the status of a kind that has one",
        "ok 2 - summaries of databases.example.com",
        "# pass 5",
        "# fail 0",
      ],
    );
  });
});
