/**
 * The first paginated list of an informer, as the real API server (watch cache on) serves it: a consistent read comes
 * page by page; `resourceVersion=0` is answered from the watch cache whole, whatever the page size.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { type ListWatch, listWatchOf } from "../../src/cache/watcher.js";
import type { KubeObject } from "../../src/object/types.js";
import { attachCluster } from "../../src/testing/index.js";
import { clientFor, configMapsGvr as configmaps, namespacesGvr as namespaces } from "../support/client.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("an informer's first paginated list on the real API server", () => {
  const ns = uniqueName("firstlist");
  let conn: ReturnType<typeof clientFor>;

  before(async () => {
    const cluster = await attachCluster();
    conn = clientFor(cluster.kubeconfigPath);
    await conn.client.resource(namespaces).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    const cms = conn.client.resource(configmaps).namespace(ns);
    for (let i = 0; i < 5; i++) {
      await cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}` }, data: { v: "0" } });
    }
  });
  after(async () => {
    await conn.client
      .resource(namespaces)
      .delete(ns)
      .catch(() => {});
    await conn.transport.close();
  });

  for (const [initialListResourceVersion, pages] of [
    ["", [2, 2, 1]],
    ["0", [5]],
  ] as const) {
    it(`at resourceVersion "${initialListResourceVersion}" comes in ${pages.length} response(s) for a page size of 2`, async () => {
      const cms = conn.client.resource(configmaps).namespace(ns);
      const inner = listWatchOf(cms);
      const lists: { resourceVersion: string | undefined; items: number }[] = [];
      const source: ListWatch<KubeObject> = {
        ...inner,
        list: async (opts) => {
          const page = await inner.list(opts);
          lists.push({ resourceVersion: opts.resourceVersion, items: page.items.length });
          return page;
        },
      };
      const informer = new Informer<KubeObject>(source, {
        streamingList: false,
        pageSize: 2,
        initialListResourceVersion,
      });
      informer.start();
      try {
        await informer.synced(AbortSignal.timeout(20_000));
        assert.equal(informer.store.keys().length, 5);
        assert.deepEqual(
          lists.map((l) => l.items),
          pages,
        );
        assert.equal(lists[0]?.resourceVersion, initialListResourceVersion || undefined);
        const name = `cm-${initialListResourceVersion ? "rv0" : "consistent"}`;
        await cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name } });
        await waitFor("the watch from the list's resourceVersion", () => informer.store.get(`${ns}/${name}`));
        await cms.delete(name);
      } finally {
        await informer.stop();
      }
    });
  }
});
