/**
 * A paginated list that outlives etcd's compaction window: its next page's continue token is `410 Expired`. With the
 * watch cache off every page is read from etcd, and compacting etcd between two pages of every list makes each list
 * expire as a slow list over a busy etcd would. Starting the list again from its first page would never end; the
 * informer must fall back to one full list, as client-go's pager does, and sync.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { type ListWatch, listWatchOf } from "../../src/cache/watcher.js";
import type { ListOptions } from "../../src/client/options.js";
import { ApiError } from "../../src/http/errors.js";
import type { KubeObject } from "../../src/object/types.js";
import { configMapsGvr as configmaps } from "../support/client.js";
import { cleanups, createNamespace, faultCluster } from "../support/faults.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("a paginated list whose continue token expires (watch cache off)", () => {
  const ns = uniqueName("expire");
  let env: Awaited<ReturnType<typeof faultCluster>>;
  const cleanup = cleanups();

  before(async () => {
    env = await faultCluster({ watchCache: false });
    await createNamespace(env.admin.client, ns);
  });
  after(async () => {
    await cleanup.run();
    await env?.close();
  });

  it("falls back to one full list when a later page is Expired, and syncs", { timeout: 60_000 }, async () => {
    const cms = env.admin.client.resource(configmaps).namespace(ns);
    for (let i = 0; i < 6; i++) {
      await cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}` }, data: { v: "0" } });
    }
    const inner = listWatchOf(cms);
    const lists: { opts: ListOptions; outcome: string }[] = [];
    let compactions = 0;
    // Between the first page and the next of every list: a write, then a compaction past the list's revision.
    const source: ListWatch<KubeObject> = {
      ...inner,
      list: async (opts) => {
        const entry = { opts: { ...opts, signal: undefined }, outcome: "" };
        lists.push(entry);
        try {
          const page = await inner.list(opts);
          entry.outcome = `${page.items.length} items${page.metadata.continue ? " and a continue token" : ""}`;
          if (page.metadata.continue && !opts.continue) {
            await cms.patch("cm-0", { data: { v: String(++compactions) } }, "merge");
            await env.cluster.compact();
          }
          return page;
        } catch (err) {
          entry.outcome = err instanceof ApiError ? `${err.status} ${err.reason}` : String(err);
          throw err;
        }
      },
    };
    const informer = new Informer<KubeObject>(source, {
      streamingList: false,
      pageSize: 2,
      backoff: { initialMs: 100, maxMs: 500 },
    });
    informer.start();
    cleanup.defer(() => informer.stop());
    await waitFor("the informer to sync", () => informer.status().synced, { timeoutMs: 20_000 });

    assert.deepEqual(
      lists.map((l) => [l.opts.limit, Boolean(l.opts.continue), l.outcome]),
      [
        [2, false, "2 items and a continue token"],
        [2, true, "410 Expired"],
        [undefined, false, "6 items"],
      ],
    );
    assert.equal(informer.store.keys().length, 6);
    const cm0 = informer.store.get(`${ns}/cm-0`) as { data?: { v?: string } } | undefined;
    assert.equal(cm0?.data?.v, "1", "the full list was read after the write");
    assert.equal(informer.status().consecutiveErrors, 0, "the fallback is no failure");
  });
});
