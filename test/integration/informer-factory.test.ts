/**
 * The shared informer factory on the real API server: waitForSync() without a signal gives up, with an
 * InformerStoppedError, when an informer it waits for stops before it has synced; consumers of one informer add
 * indexes to its store, shared when they agree and refused when they do not.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SharedInformerFactory } from "../../src/cache/factory.js";
import { InformerStoppedError } from "../../src/cache/informer.js";
import { type ListWatch, listWatchOf } from "../../src/cache/watcher.js";
import type { GroupVersionResource } from "../../src/client/gvr.js";
import type { ApiError } from "../../src/http/errors.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, clientEnv, configMap, configMapsGvr } from "../support/client.js";
import { outcome, uniqueName, waitFor } from "../support/wait.js";

describe("shared informer factory on the real API server", () => {
  let env: ClientEnv;
  // A resource the server does not serve: its list answers 404 for as long as the informer retries.
  const missing: GroupVersionResource = { group: "", version: "v1", resource: uniqueName("missing") };

  before(async () => {
    env = await clientEnv("factory");
  });
  after(() => env.close());

  /** A factory holding an informer that syncs and one that never can, the latter's list refused at least once. */
  async function factoryWithUnsyncable() {
    const factory = new SharedInformerFactory(env.client, { backoff: { initialMs: 50, maxMs: 200 } });
    const good = factory.acquire({ gvr: configMapsGvr, namespace: env.namespace });
    const bad = factory.acquire({ gvr: missing });
    const errors: ApiError[] = [];
    bad.informer.onError((error) => void errors.push(error));
    await waitFor("the list refused", () => errors[0], { timeoutMs: 20_000 });
    assert.equal(errors[0]?.kind, "NotFound");
    return { factory, good, bad };
  }

  it("waitForSync() rejects once the last holder releases an informer that has not synced", async () => {
    const { factory, good, bad } = await factoryWithUnsyncable();
    try {
      const waiting = outcome(factory.waitForSync());
      await good.informer.synced(AbortSignal.timeout(20_000));
      assert.equal(waiting(), undefined, "still waiting for the informer that cannot list");
      await bad.release();
      const reason = await waitFor("waitForSync() to give up", waiting, { timeoutMs: 5000 });
      assert.ok(reason instanceof InformerStoppedError, String(reason));
      assert.match(reason.message, new RegExp(`the informer of ${missing.resource}/v1 stopped before it synced`));
      await factory.waitForSync(); // only the synced informer is held now
    } finally {
      await factory.shutdown();
    }
  });

  it("waitForSync() rejects when shutdown() stops an informer that has not synced", async () => {
    const { factory } = await factoryWithUnsyncable();
    const waiting = outcome(factory.waitForSync());
    await factory.shutdown();
    const reason = await waitFor("waitForSync() to give up", waiting, { timeoutMs: 5000 });
    assert.ok(reason instanceof InformerStoppedError, String(reason));
  });

  describe("indexers asked for by the consumers", () => {
    interface ConfigMap extends KubeObject {
      kind: "ConfigMap";
      data?: Record<string, string>;
    }
    const byTeam = (cm: ConfigMap) => [cm.data?.team ?? ""];
    const byTier = (cm: ConfigMap) => [cm.data?.tier ?? ""];
    const names = (objects: readonly KubeObject[]) => objects.map((o) => o.metadata.name).sort();

    it("two consumers share one informer; an index added once it has synced covers what it holds already", async () => {
      const plain = env.client.resource(configMapsGvr).namespace(env.namespace);
      await plain.create(configMap("idx-a", { team: "ml", tier: "gold" }));
      await plain.create(configMap("idx-b", { team: "ml", tier: "bronze" }));
      await plain.create(configMap("idx-c", { team: "web", tier: "gold" }));
      const factory = new SharedInformerFactory(env.client);
      try {
        const first = factory.acquire<ConfigMap>({
          gvr: configMapsGvr,
          namespace: env.namespace,
          indexers: { team: byTeam },
        });
        await first.informer.synced(AbortSignal.timeout(20_000));
        assert.deepEqual(names(first.informer.store.byIndex("team", "ml")), ["idx-a", "idx-b"]);

        // The same informer, running and synced: `team` is shared (same function), `tier` built over its objects now.
        const second = factory.acquire<ConfigMap>({
          gvr: configMapsGvr,
          namespace: env.namespace,
          indexers: { team: byTeam, tier: byTier },
        });
        assert.equal(second.informer, first.informer);
        assert.deepEqual(names(second.informer.store.byIndex("tier", "gold")), ["idx-a", "idx-c"]);
        assert.deepEqual(names(second.informer.store.byIndex("team", "web")), ["idx-c"]);

        // Both indexes follow changes from then on.
        await plain.create(configMap("idx-d", { team: "web", tier: "gold" }));
        await waitFor("idx-d in both indexes", () => {
          const store = first.informer.store;
          return (
            names(store.byIndex("tier", "gold")).includes("idx-d") && names(store.byIndex("team", "web")).length === 2
          );
        });
        await first.release();
        await second.release();
        assert.deepEqual(factory.informers(), [], "the last release stops the informer");

        // The same objects through listWatchOf(), typed as the client's; with metadataOnly as metadata only.
        const source: ListWatch<ConfigMap> = listWatchOf(
          env.client.resource<ConfigMap>(configMapsGvr).namespace(env.namespace),
        );
        assert.deepEqual((await source.list({})).items.find((cm) => cm.metadata.name === "idx-a")?.data, {
          team: "ml",
          tier: "gold",
        });
        const metadata = listWatchOf(plain, { metadataOnly: true });
        // @ts-expect-error a metadata-only source holds no ConfigMaps
        const wrong: ListWatch<ConfigMap> = metadata;
        assert.equal((await wrong.list({})).items.find((cm) => cm.metadata.name === "idx-a")?.data, undefined);
      } finally {
        await factory.shutdown();
      }
    });

    it("refuses another function under an index name the informer has, and takes no hold then", async () => {
      const factory = new SharedInformerFactory(env.client);
      try {
        const first = factory.acquire<ConfigMap>({
          gvr: configMapsGvr,
          namespace: env.namespace,
          indexers: { team: byTeam },
        });
        await first.informer.synced(AbortSignal.timeout(20_000));
        const other = (cm: ConfigMap) => [cm.data?.owner ?? ""];
        assert.throws(
          () =>
            factory.acquire<ConfigMap>({
              gvr: configMapsGvr,
              namespace: env.namespace,
              indexers: { tier: byTier, team: other },
            }),
          new RegExp(
            `the shared informer of configmaps/v1 in namespace ${env.namespace} has an index "team" already, with another function`,
          ),
        );
        assert.equal(first.informer.store.indexer("team"), byTeam, "the index stays as it was");
        assert.equal(first.informer.store.indexer("tier"), undefined, "a refused request adds none of its indexes");
        await first.release();
        assert.deepEqual(factory.informers(), [], "the refused request held nothing: the one release stops it");
      } finally {
        await factory.shutdown();
      }
    });
  });
});
