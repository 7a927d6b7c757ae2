/** The README's client example is this repository's examples/custom-resource.ts, and it runs against a real server. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { isAlreadyExists } from "../../src/http/errors.js";
import { attachCluster, type ClusterAccess } from "../../src/testing/index.js";
import { clientFor, namespacesGvr as namespaces } from "../support/client.js";
import { createCrd } from "../support/crds.js";
import { uniqueName } from "../support/wait.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const widgets = { group: "example.com", version: "v1", resource: "widgets" };

describe("README example", () => {
  const ns = uniqueName("readme");
  let cluster: ClusterAccess;
  let conn: ReturnType<typeof clientFor>;

  before(async () => {
    cluster = await attachCluster();
    conn = clientFor(cluster.kubeconfigPath);
    try {
      await createCrd(conn.transport, {
        group: "example.com",
        kind: "Widget",
        plural: "widgets",
        singular: "widget",
        shortNames: ["wdg"],
        versions: [{ name: "v1", storage: true }],
      });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    await conn.client.resource(namespaces).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    const objects = conn.client.resource(widgets).namespace(ns);
    for (const name of ["first", "second"]) {
      await objects.create({
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name, labels: { app: "demo" } },
        spec: { size: 3 },
      });
    }
  });
  after(() => conn.transport.close());

  it("shows in the README exactly the code of its examples", async () => {
    const readme = await readFile(`${root}README.md`, "utf8");
    for (const file of ["custom-resource.ts", "apply-and-wait.ts"]) {
      const example = await readFile(`${root}examples/${file}`, "utf8");
      const block = readme.match(new RegExp(`<!-- example: examples/${file} -->\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\``))?.[1];
      assert.equal(block, example, file);
    }
  });

  it("gets, lists, patches and watches a custom resource", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [`${root}dist/examples/custom-resource.js`, ns], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath },
      timeout: 30_000,
    });
    assert.deepEqual(stdout.trim().split("\n"), ["first size 3", "listed first", "listed second", "MODIFIED first"]);
    const after = await conn.client.resource(widgets).namespace(ns).get("first");
    assert.deepEqual(after.spec, { size: 5 });
  });

  it("applies a manifest with a CRD, waits for a condition, a JSONPath value and a deletion", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [`${root}dist/examples/apply-and-wait.js`, ns], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath },
      timeout: 60_000,
    });
    assert.deepEqual(stdout.trim().split("\n"), [
      "applied 1: Task build",
      "applied 2: ConfigMap build-settings",
      "applied 3: CustomResourceDefinition tasks.example.com",
      "complete: build",
      "deleted: build",
    ]);
    const settings = await conn.client
      .resource({ group: "", version: "v1", resource: "configmaps" })
      .namespace(ns)
      .get("build-settings");
    assert.deepEqual(settings.data, { mode: "fast" });
  });
});
