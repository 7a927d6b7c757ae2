/**
 * Expired resourceVersions. The shared cluster's watch cache serves old versions from memory (a watch from "1" replays
 * history), and compacting its etcd would disturb every other test file, so this file starts a private cluster with the
 * watch cache off, where reads past a compaction reach etcd and come back `410 Gone`.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DynamicClient } from "../../src/client/index.js";
import { loadConfig } from "../../src/config/index.js";
import { ApiError, isGone, Transport } from "../../src/http/index.js";
import { TestCluster } from "../../src/testing/index.js";
import { type Client, collect, configMap, configMapsGvr } from "../support/client.js";

// The binaries are at hand when the harness started the shared cluster; against another cluster they may not be.
const skip = process.env.KINDWATCH_TEST_CLUSTER ? false : "needs the harness's binaries (run through test/run.ts)";

describe("dynamic client: expired resourceVersions", { skip }, () => {
  let cluster: TestCluster;
  let transport: Transport;
  let configMaps: Client;
  let oldVersion: string;
  let staleToken: string;

  before(async () => {
    cluster = await TestCluster.start({ watchCache: false });
    transport = new Transport(loadConfig({ kubeconfig: cluster.kubeconfigPath, env: {} }));
    configMaps = new DynamicClient(transport).resource(configMapsGvr).namespace("default");
    for (let i = 0; i < 5; i++) await configMaps.create(configMap(`old-${i}`));
    const page = await configMaps.list({ limit: 2 });
    oldVersion = page.metadata.resourceVersion ?? "";
    staleToken = page.metadata.continue ?? "";
    assert.ok(oldVersion && staleToken);
    for (let i = 0; i < 5; i++) await configMaps.patch(`old-${i}`, { data: { v: "2" } }, "merge");
    await cluster.compact();
  });

  after(async () => {
    await transport?.close();
    await cluster?.stop();
  });

  it("a watch from a compacted resourceVersion yields one ERROR event whose error is Gone, then ends", async () => {
    const events = await collect(
      configMaps.watch({ resourceVersion: oldVersion, signal: AbortSignal.timeout(30_000) }),
      () => false,
    );
    assert.equal(events.length, 1, JSON.stringify(events).slice(0, 300));
    const [event] = events;
    assert.equal(event?.type, "ERROR");
    if (event?.type !== "ERROR") return;
    assert.ok(event.error instanceof ApiError);
    assert.ok(isGone(event.error), event.error.kind);
    assert.equal(event.error.status, 410);
    assert.match(event.error.message, /too old/);
    assert.equal((event.object as { kind?: string }).kind, "Status");
  });

  it("a continue token from before the compaction is Gone, and so is an Exact list at a compacted version", async () => {
    const pages = configMaps.pages({ limit: 2, continue: staleToken });
    const err = await pages.next().then(
      () => assert.fail("a stale continue token was accepted"),
      (e: unknown) => e,
    );
    assert.ok(isGone(err), String(err));
    assert.equal(err.status, 410);

    const exact = await configMaps
      .list({ resourceVersion: oldVersion, resourceVersionMatch: "Exact" })
      .catch((e: unknown) => e);
    assert.ok(isGone(exact), String(exact));

    let count = 0;
    for await (const page of configMaps.pages({ limit: 2 })) count += page.items.length;
    assert.equal(count, 5, "a fresh list after the compaction works");
  });
});
