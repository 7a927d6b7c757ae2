// The label-summary controller's test, on a kube-apiserver and etcd of its own: run it with `node --test`. The bare
// control plane has no garbage collector, so a summary that goes away went through the controller's finalizer.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import {
  type Cluster,
  connect,
  EventRecorder,
  getCondition,
  isNotFound,
  type KubeObject,
  type ResourceClient,
} from "kindwatch";
import { TestCluster } from "kindwatch/testing";
import { enabledLabel, labelSummaryController, summaryFinalizer, summaryName } from "./label-summary-controller.js";

const configMaps = { group: "", version: "v1", resource: "configmaps" };
const events = { group: "events.k8s.io", version: "v1", resource: "events" };

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** Polls `check` until it returns something other than undefined; fails with `what` after `timeoutMs`. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The object, or undefined once it is gone. */
async function read<T extends KubeObject>(get: () => Promise<T>): Promise<T | undefined> {
  try {
    return await get();
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

let cluster: TestCluster;
let admin: Cluster;
before(async () => {
  cluster = await TestCluster.start();
  admin = connect({ kubeconfig: cluster.kubeconfigPath });
  // The guides' Database kind, which has a status subresource; ConfigMaps have none.
  const crd = await readFile(new URL("../../examples/databases-crd.yaml", import.meta.url), "utf8");
  await admin.applyManifest(crd, { fieldManager: "test" });
});
after(async () => {
  await admin.close();
  await cluster.stop();
});

for (const resourceName of ["configmaps", "databases.example.com"]) {
  describe(`summaries of ${resourceName}`, () => {
    const namespace = "default";
    const stop = new AbortController();
    let running: Promise<void>;
    let recorder: EventRecorder;
    let kind: string;
    let objects: ResourceClient<KubeObject>;

    before(async () => {
      const { client, resource } = await admin.lookup(resourceName);
      kind = resource.kind;
      objects = client.namespace(namespace);
      recorder = new EventRecorder(admin.client, { reportingController: "test/label-summary", reportingInstance: "t" });
      running = labelSummaryController(admin, { resource, namespace, recorder }).run(stop.signal);
    });
    after(async () => {
      stop.abort();
      await running; // a controller that failed rejects here
      await recorder.close();
    });

    const summaries = () => admin.resource<ConfigMap>(configMaps).namespace(namespace);
    const summaryOf = (name: string) => read(() => summaries().get(summaryName(kind, name)));
    const create = (name: string, labels: Record<string, string>) =>
      objects.create({
        apiVersion: kind === "ConfigMap" ? "v1" : "example.com/v1",
        kind,
        metadata: { name, labels },
        ...(kind === "ConfigMap" ? { data: { a: "1" } } : { spec: { engine: "postgres" } }),
      });

    it("writes an owned summary, follows label changes, and removes it through the finalizer on delete", async () => {
      await create("orders", { [enabledLabel]: "true", team: "web" });
      const first = await eventually("the summary", async () => {
        const obj = await objects.get("orders");
        const summary = await summaryOf("orders");
        // The summary is of the object's latest version: the finalizer's write changed it after the create.
        return summary && summary.data?.resourceVersion === obj.metadata.resourceVersion ? { obj, summary } : undefined;
      });
      assert.deepEqual(first.summary.data, {
        name: "orders",
        kind,
        labels: `${enabledLabel}=true,team=web`,
        resourceVersion: first.obj.metadata.resourceVersion,
      });
      assert.deepEqual(first.obj.metadata.finalizers, [summaryFinalizer]);
      assert.deepEqual(
        first.summary.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]),
        [[kind, "orders", first.obj.metadata.uid, true]],
      );

      await objects.patch("orders", { metadata: { labels: { team: "shop" } } }, "merge");
      await eventually("the summary to show the new label", async () => {
        const summary = await summaryOf("orders");
        return summary?.data?.labels === `${enabledLabel}=true,team=shop` ? true : undefined;
      });

      // Someone deletes the summary: the owner is reconciled and puts it back.
      await summaries().delete(summaryName(kind, "orders"));
      await eventually("the summary to be recreated", () => summaryOf("orders"));

      await objects.delete("orders");
      await eventually("the object and its summary to be gone", async () => {
        const gone = (await read(() => objects.get("orders"))) === undefined;
        return gone && (await summaryOf("orders")) === undefined ? true : undefined;
      });

      await recorder.flush();
      const reasons = (await admin.resource(events).namespace(namespace).list()).items
        .filter((e) => (e.regarding as { name?: string } | undefined)?.name === "orders")
        .map((e) => e.reason);
      assert.ok(reasons.includes("SummaryWritten") && reasons.includes("SummaryDeleted"), `Events: ${reasons}`);
    });

    it("leaves objects without the label alone, and lets go of one whose label is taken off", async () => {
      await create("plain", { team: "web" });
      await create("opted-in", { [enabledLabel]: "true" });
      await eventually("the opted-in object's summary", () => summaryOf("opted-in"));
      assert.equal(await summaryOf("plain"), undefined);
      assert.equal((await objects.get("plain")).metadata.finalizers, undefined);

      await objects.patch("opted-in", { metadata: { labels: { [enabledLabel]: null } } }, "merge");
      await eventually("the summary and the finalizer to be gone", async () => {
        const obj = await objects.get("opted-in");
        return (await summaryOf("opted-in")) === undefined && !obj.metadata.finalizers ? true : undefined;
      });
    });

    if (resourceName === "databases.example.com") {
      it("reports the summary in the status of a kind that has one", async () => {
        await create("billing", { [enabledLabel]: "true" });
        const db = await eventually("the Summarized condition", async () => {
          const obj = await objects.get("billing");
          return getCondition(obj, "Summarized") ? obj : undefined;
        });
        const condition = getCondition(db, "Summarized");
        assert.deepEqual(
          [condition?.status, condition?.message, condition?.observedGeneration],
          ["True", summaryName(kind, "billing"), db.metadata.generation],
        );
      });
    }
  });
}
