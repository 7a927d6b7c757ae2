/**
 * Backpressure on the real API server: an informer whose handler is far slower than the stream of changes stops
 * reading its watch while the handler is behind (the server holds what follows), instead of reading everything into
 * its handler's backlog, and still delivers every change once the handler catches up.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Informer } from "../../src/cache/informer.js";
import { listWatchOf, wrapListWatch } from "../../src/cache/watcher.js";
import type { WatchSubscription } from "../../src/client/options.js";
import type { KubeObject } from "../../src/object/types.js";
import { attachCluster } from "../../src/testing/index.js";
import { clientFor, configMapsGvr as configmaps, namespacesGvr as namespaces } from "../support/client.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("informer backpressure on the real API server", () => {
  const ns = uniqueName("backpressure");
  let conn: ReturnType<typeof clientFor>;

  before(async () => {
    const cluster = await attachCluster();
    conn = clientFor(cluster.kubeconfigPath);
    await conn.client.resource(namespaces).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
  });
  after(async () => {
    await conn.client.resource(namespaces).delete(ns);
    await conn.transport.close();
  });

  it("pauses the watch while a slow handler is behind, holds no more than its bound, and loses nothing", async () => {
    const cms = conn.client.resource(configmaps).namespace(ns);
    const source = listWatchOf(cms);
    const push = source.watchPush?.bind(source);
    assert.ok(push, "the client's ListWatch pushes");
    let pauses = 0;
    const counted = wrapListWatch(source, {
      list: (opts) => source.list(opts),
      watch: (opts) => source.watch(opts),
      watchPush: (opts, sink): WatchSubscription => {
        const sub = push(opts, sink);
        return {
          pause: () => {
            pauses++;
            sub.pause();
          },
          resume: () => sub.resume(),
          close: () => sub.close(),
        };
      },
    });
    const bound = 10;
    const informer = new Informer<KubeObject>(counted, { maxHandlerBacklog: bound });
    const handled: string[] = [];
    /** The most objects stored but not yet handled: what the handler's backlog held at most. */
    let mostAhead = 0;
    informer.addHandlers({
      add: async (o) => {
        mostAhead = Math.max(mostAhead, informer.store.size - handled.length);
        await sleep(20);
        handled.push(o.metadata.name as string);
      },
    });
    informer.start();
    try {
      await informer.synced(AbortSignal.timeout(20_000));
      const count = 200;
      const padding = "x".repeat(2000);
      const names = Array.from({ length: count }, (_, i) => `cm-${String(i).padStart(3, "0")}`);
      // Made far faster than the handler takes them (20 ms each): without backpressure the backlog nears all of them.
      for (let i = 0; i < count; i += 20) {
        await Promise.all(
          names
            .slice(i, i + 20)
            .map((name) => cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { padding } })),
        );
      }
      await waitFor("every object handled", () => handled.length >= count, { timeoutMs: 60_000 });
      await informer.idle();
      // One network read more than the bound can arrive before the pause: a read holds a few of these objects at most.
      assert.ok(mostAhead <= bound + 30, `the handler fell ${mostAhead} objects behind, its bound is ${bound}`);
      assert.ok(pauses > 0, "the watch was paused");
      assert.deepEqual([...handled].sort(), names, "each object handled once");
      const listed = await cms.list();
      assert.deepEqual(
        informer.store
          .list()
          .map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`)
          .sort(),
        (listed.items ?? []).map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort(),
        "the store holds what the server holds",
      );
    } finally {
      await informer.stop();
    }
  });
});
