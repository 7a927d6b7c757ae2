/** Lists against a real server: paging over 1,000 objects, selectors, resourceVersion semantics, metadata and Table views. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { PartialObjectMetadata } from "../../src/client/index.js";
import { ApiError } from "../../src/http/index.js";
import type { KubeObject } from "../../src/object/types.js";
import {
  type Client,
  type ClientEnv,
  clientEnv,
  configMap,
  configMapsGvr,
  createWidgetCrd,
  inBatches,
  type WidgetKind,
  widget,
} from "../support/client.js";

const total = 1000;
const pageSize = 100;
const bulkName = (i: number) => `bulk-${String(i).padStart(4, "0")}`;
const names = (items: readonly KubeObject[]) => items.map((o) => o.metadata.name ?? "");

describe("dynamic client: list", () => {
  let env: ClientEnv;
  let configMaps: Client;
  let kind: WidgetKind;

  before(async () => {
    env = await clientEnv("client-list");
    configMaps = env.client.resource(configMapsGvr).namespace(env.namespace);
    kind = await createWidgetCrd(env.client);
    const all = Array.from({ length: total }, (_, i) => i);
    await inBatches(all, 20, (i) =>
      configMaps.create(
        configMap(bulkName(i), { i: String(i) }, { bulk: "yes", parity: i % 2 ? "odd" : "even", idx: String(i) }),
      ),
    );
  });

  after(async () => {
    await kind?.remove();
    await env?.close();
  });

  it("lists everything in one page when no limit is given", async () => {
    const list = await configMaps.list({ labelSelector: "bulk=yes" });
    assert.equal(list.kind, "ConfigMapList");
    assert.equal(list.items.length, total);
    assert.equal(list.metadata.continue, undefined);
    assert.ok(list.metadata.resourceVersion);
    // The server leaves apiVersion and kind out of built-in kinds' items; the client puts them back.
    assert.ok(list.items.every((cm) => cm.apiVersion === "v1" && cm.kind === "ConfigMap"));
  });

  it("pages over 1,000 objects 100 at a time: 10 full pages, every name exactly once", async () => {
    const seen = new Map<string, number>();
    const sizes: number[] = [];
    for await (const page of configMaps.pages({ limit: pageSize, labelSelector: "bulk=yes" })) {
      sizes.push(page.items.length);
      for (const name of names(page.items)) seen.set(name, (seen.get(name) ?? 0) + 1);
    }
    assert.deepEqual(sizes, Array(10).fill(pageSize));
    assert.equal(seen.size, total);
    assert.ok(
      [...seen.values()].every((n) => n === 1),
      "no name twice",
    );
    for (let i = 0; i < total; i++) assert.ok(seen.has(bulkName(i)), `${bulkName(i)} seen`);

    const streamed = new Set<string>();
    let count = 0;
    for await (const cm of configMaps.listAll({ limit: pageSize, labelSelector: "bulk=yes" })) {
      streamed.add(cm.metadata.name ?? "");
      count++;
    }
    assert.equal(count, total);
    assert.equal(streamed.size, total);
  });

  it("serves every page from the first page's snapshot, and takes a resourceVersion for the first page", async () => {
    const pages = configMaps.pages({ limit: 300, labelSelector: "bulk=yes" });
    const firstPage = await pages.next();
    assert.ok(!firstPage.done);
    const snapshot = firstPage.value.metadata.resourceVersion;
    await configMaps.create(configMap("bulk-late", {}, { bulk: "yes" }));
    const rest: KubeObject[] = [...firstPage.value.items];
    for await (const page of pages) {
      assert.equal(page.metadata.resourceVersion, snapshot, "a continued page keeps the snapshot's version");
      rest.push(...page.items);
    }
    assert.equal(rest.length, total, "an object created after the first page is not in the snapshot");
    assert.ok(!names(rest).includes("bulk-late"));

    const latest = await configMaps.list({ labelSelector: "bulk=yes", limit: 1 });
    let count = 0;
    let pageCount = 0;
    for await (const page of configMaps.pages({
      limit: 300,
      labelSelector: "bulk=yes",
      resourceVersion: latest.metadata.resourceVersion,
      resourceVersionMatch: "NotOlderThan",
    })) {
      pageCount++;
      count += page.items.length;
    }
    assert.equal(count, total + 1);
    assert.equal(pageCount, 4);
    await configMaps.delete("bulk-late");
  });

  it("filters with label and field selectors", async () => {
    assert.equal((await configMaps.list({ labelSelector: "parity=even" })).items.length, total / 2);
    assert.deepEqual(names((await configMaps.list({ labelSelector: "idx in (3,5,7),parity=odd" })).items).sort(), [
      bulkName(3),
      bulkName(5),
      bulkName(7),
    ]);
    assert.deepEqual(names((await configMaps.list({ fieldSelector: `metadata.name=${bulkName(42)}` })).items), [
      bulkName(42),
    ]);
    const both = await configMaps.list({
      labelSelector: "parity=even",
      fieldSelector: `metadata.name!=${bulkName(42)}`,
    });
    assert.equal(both.items.length, total / 2 - 1);
    assert.equal((await configMaps.list({ labelSelector: "bulk=no" })).items.length, 0);

    const badLabel = await configMaps.list({ labelSelector: "a b c" }).catch((e: unknown) => e);
    assert.ok(badLabel instanceof ApiError && badLabel.kind === "BadRequest", String(badLabel));
    const badField = await configMaps.list({ fieldSelector: "data.i=3" }).catch((e: unknown) => e);
    assert.ok(badField instanceof ApiError && badField.kind === "BadRequest", String(badField));
  });

  it("honours resourceVersion: Exact reads the past, NotOlderThan and none read at least as new", async () => {
    const widgets = env.client.resource(kind.gvr).namespace(env.namespace);
    await widgets.create(widget(kind, "before"));
    const then = await widgets.list();
    assert.deepEqual(names(then.items), ["before"]);
    const rv = then.metadata.resourceVersion;
    await widgets.create(widget(kind, "after"));

    const exact = await widgets.list({ resourceVersion: rv, resourceVersionMatch: "Exact" });
    assert.deepEqual(names(exact.items), ["before"], "Exact lists the state at that version");
    assert.equal(exact.metadata.resourceVersion, rv);
    const notOlder = await widgets.list({ resourceVersion: rv, resourceVersionMatch: "NotOlderThan" });
    assert.ok(names(notOlder.items).includes("before"));
    assert.deepEqual(names((await widgets.list()).items).sort(), ["after", "before"], "no version: the latest");
    const cached = await widgets.list({ resourceVersion: "0" });
    assert.ok(names(cached.items).includes("before"), "0: any version, served from the cache");
    assert.equal((await widgets.get("after", { resourceVersion: "0" })).metadata.name, "after");

    const invalid = await widgets.list({ resourceVersionMatch: "Exact" }).catch((e: unknown) => e);
    assert.ok(invalid instanceof ApiError && invalid.kind === "Invalid", String(invalid));
  });

  it("lists, gets and pages metadata only: PartialObjectMetadata without data, in fewer bytes", async () => {
    const fat = "x".repeat(4096);
    await inBatches(
      Array.from({ length: 20 }, (_, i) => i),
      10,
      (i) => configMaps.create(configMap(`fat-${i}`, { blob: fat }, { fat: "yes" })),
    );
    const full = await configMaps.list({ labelSelector: "fat=yes" });
    const meta = await configMaps.listMetadata({ labelSelector: "fat=yes" });
    assert.equal(meta.kind, "PartialObjectMetadataList");
    assert.equal(meta.apiVersion, "meta.k8s.io/v1");
    assert.equal(meta.items.length, 20);
    for (const item of meta.items) {
      assert.equal(item.kind, "PartialObjectMetadata");
      assert.equal(item.data, undefined);
      assert.equal(item.metadata.labels?.fat, "yes");
      assert.ok(item.metadata.uid);
    }
    assert.deepEqual(names(meta.items).sort(), names(full.items).sort());
    const fullBytes = JSON.stringify(full).length;
    const metaBytes = JSON.stringify(meta).length;
    assert.ok(metaBytes * 5 < fullBytes, `metadata ${metaBytes} bytes vs full ${fullBytes} bytes`);

    const one: PartialObjectMetadata = await configMaps.getMetadata("fat-3");
    assert.equal(one.kind, "PartialObjectMetadata");
    assert.equal(one.metadata.name, "fat-3");
    assert.equal(one.data, undefined);

    const page = await configMaps.listMetadata({ labelSelector: "fat=yes", limit: 5 });
    assert.equal(page.items.length, 5);
    assert.ok(page.metadata.continue);
  });

  it("shows a ConfigMap Table with kubectl's columns (Name, Data, Age) and one row per object", async () => {
    const table = await configMaps.table({ labelSelector: "idx in (1,2,3)" });
    assert.equal(table.kind, "Table");
    const shown = table.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name);
    assert.deepEqual(shown, ["Name", "Data", "Age"]);
    assert.deepEqual(
      table.rows.map((r) => r.cells[0]),
      [bulkName(1), bulkName(2), bulkName(3)],
    );
    assert.deepEqual(
      table.rows.map((r) => r.cells[1]),
      [1, 1, 1],
    );
    for (const row of table.rows) assert.equal(row.object?.kind, "PartialObjectMetadata");

    const withObjects = await configMaps.table({ labelSelector: "idx=2", includeObject: "Object" });
    assert.deepEqual(withObjects.rows[0]?.object?.data, { i: "2" });
    const none = await configMaps.table({ labelSelector: "idx=2", includeObject: "None" });
    assert.equal(none.rows[0]?.object, undefined);
    const single = await configMaps.table({ name: bulkName(9) });
    assert.deepEqual(
      single.rows.map((r) => r.cells[0]),
      [bulkName(9)],
    );
    const paged = await configMaps.table({ labelSelector: "bulk=yes", limit: 10 });
    assert.equal(paged.rows.length, 10);
    assert.ok(paged.metadata.continue);
  });

  it("shows a custom kind's Table with its additionalPrinterColumns", async () => {
    const widgets = env.client.resource(kind.gvr).namespace(env.namespace);
    const created = await widgets.create(widget(kind, "printed", { replicas: 3, color: "blue" }));
    await widgets.updateStatus({ ...created, status: { phase: "Ready" } });
    const table = await widgets.table({ fieldSelector: "metadata.name=printed" });
    assert.deepEqual(
      table.columnDefinitions.map((c) => [c.name, c.type, c.priority]),
      [
        ["Name", "string", 0],
        ["Replicas", "integer", 0],
        ["Phase", "string", 0],
        ["Color", "string", 1],
        ["Age", "date", 0],
      ],
    );
    assert.equal(table.rows.length, 1);
    assert.deepEqual(table.rows[0]?.cells.slice(0, 4), ["printed", 3, "Ready", "blue"]);
  });
});
