/**
 * An API server started with `--feature-gates=WatchList=false`, as some clusters and aggregated API servers run: it
 * refuses streaming lists. The informer must list instead, and try streaming again at its next relist (the feature may
 * have been turned on by then) rather than give it up for good. The watch cache is off so that a compaction makes the
 * informer's re-watch `410 Gone`, which is what makes it relist.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { type ListWatch, listWatchOf } from "../../src/cache/watcher.js";
import { ApiError } from "../../src/http/errors.js";
import type { KubeObject } from "../../src/object/types.js";
import { configMapsGvr as configmaps } from "../support/client.js";
import { cleanups, createNamespace, faultCluster } from "../support/faults.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("an API server whose WatchList feature is off", () => {
  const ns = uniqueName("nowatchlist");
  let env: Awaited<ReturnType<typeof faultCluster>>;
  const cleanup = cleanups();

  before(async () => {
    env = await faultCluster({ watchCache: false, apiServerArgs: ["--feature-gates=WatchList=false"] });
    await createNamespace(env.admin.client, ns);
  });
  after(async () => {
    await cleanup.run();
    await env?.close();
  });

  it("refuses streaming lists; the informer lists instead and streams again at its relist", {
    timeout: 60_000,
  }, async () => {
    const cms = env.admin.client.resource(configmaps).namespace(ns);
    for (let i = 0; i < 3; i++) {
      await cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}` }, data: { v: "0" } });
    }
    const inner = listWatchOf(cms);
    const watches: { streaming: boolean; error?: ApiError }[] = [];
    let liveWatches = 0;
    let lists = 0;
    const source: ListWatch<KubeObject> = {
      description: inner.description,
      list: (opts) => {
        lists++;
        return inner.list(opts);
      },
      watch: inner.watch,
      watchBatches: (opts) => {
        const entry: { streaming: boolean; error?: ApiError } = { streaming: opts.sendInitialEvents === true };
        watches.push(entry);
        const live = !entry.streaming && ++liveWatches === 2;
        return (async function* () {
          // Before the second live watch (the first ends at its 1 s timeout): two writes, then a compaction past the
          // first, which the watch would start from (the one after its resourceVersion): it is Gone, and the informer
          // relists.
          if (live) {
            await cms.patch("cm-0", { data: { v: "1" } }, "merge");
            await cms.patch("cm-0", { data: { v: "2" } }, "merge");
            await env.cluster.compact();
          }
          try {
            for await (const batch of inner.watchBatches?.(opts) ?? []) {
              for (const event of batch) if (event.type === "ERROR") entry.error = event.error;
              yield batch;
            }
          } catch (err) {
            if (err instanceof ApiError) entry.error = err;
            throw err;
          }
        })();
      },
    };
    const informer = new Informer<KubeObject>(source, {
      minWatchTimeoutSeconds: 1,
      backoff: { initialMs: 100, maxMs: 500 },
    });
    const errors: ApiError[] = [];
    informer.onError((err) => errors.push(err));
    informer.start();
    cleanup.defer(() => informer.stop());
    await informer.synced(AbortSignal.timeout(20_000));
    assert.equal(informer.store.keys().length, 3);

    const [refused] = watches;
    assert.equal(refused?.streaming, true, "the informer asked for a streaming list first");
    assert.equal(refused?.error?.status, 422);
    assert.equal(refused?.error?.kind, "Invalid");
    assert.match(
      refused?.error?.message ?? "",
      /sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled/,
    );
    assert.deepEqual(
      refused?.error?.causes.map((c) => c.field),
      ["sendInitialEvents"],
    );

    await waitFor("the relist after Gone", () => informer.status().relists >= 1, { timeoutMs: 20_000 });
    assert.ok(
      errors.some((e) => e.kind === "Gone"),
      `a Gone error was reported (got ${errors.map((e) => e.kind).join(", ")})`,
    );
    const gone = watches.findIndex((w) => w.error?.kind === "Gone");
    assert.ok(gone > 0, "a live watch was Gone");
    const afterGone = watches.slice(gone + 1);
    assert.equal(afterGone[0]?.streaming, true, "the relist asked for a streaming list again");
    assert.equal(afterGone[0]?.error?.status, 422, "and the server refused it again");
    assert.equal(lists, 2, "each refusal was followed by one paginated list");
    const cm0 = informer.store.get(`${ns}/cm-0`) as { data?: { v?: string } } | undefined;
    assert.equal(cm0?.data?.v, "2", "the relist brought the writes it had missed");
  });
});
