/**
 * The batched path from a watch to the informer: a source that delivers the events of each read together
 * (`watchBatches`), the watcher's batches (`watcherBatches`), and the informer consuming them. A batch may hold the end
 * of a streaming list and the first live events, or an ERROR after real events: order and meaning must not change.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { type ListWatch, type WatcherEvent, watcher, watcherBatches } from "../../src/cache/watcher.js";
import type { WatchEvent, WatchOptions } from "../../src/client/options.js";
import type { KubeObject } from "../../src/object/types.js";
import { added, apiError, bookmark, deleted, errorEvent, modified, obj, page, show } from "../support/listwatch.js";
import { waitFor } from "../support/wait.js";

/**
 * A source with only the batched watch: each watch call replays the next script's batches, then stays open until its
 * signal aborts; once the scripts are used up a watch stays silent. Lists answer `list`.
 */
function batched(list: ReturnType<typeof page>, ...scripts: WatchEvent<KubeObject>[][][]) {
  const opened: WatchOptions[] = [];
  const source: ListWatch<KubeObject> = {
    description: "configmaps/v1 (batched)",
    list: async () => structuredClone(list),
    watch: () => {
      throw new Error("the per-event watch must not be used when watchBatches is given");
    },
    watchBatches: (opts) => {
      opened.push(opts);
      const batches = scripts.shift() ?? [];
      return (async function* () {
        yield* batches;
        await new Promise((resolve) => opts.signal?.addEventListener("abort", resolve, { once: true }));
      })();
    },
  };
  return { source, opened };
}

const controllers: AbortController[] = [];
afterEach(() => {
  for (const c of controllers.splice(0)) c.abort();
});

function signal(): AbortSignal {
  const c = new AbortController();
  controllers.push(c);
  return c.signal;
}

async function takeBatches(gen: AsyncGenerator<WatcherEvent<KubeObject>[]>, n: number): Promise<string[][]> {
  const out: string[][] = [];
  for (let i = 0; i < n; i++) {
    const r = await gen.next();
    assert.ok(!r.done, "the watcher ended");
    out.push(r.value.map(show));
  }
  return out;
}

describe("watcherBatches", () => {
  it("splits a read that holds the end of a streaming list and live events around init-done", async () => {
    const { source, opened } = batched(page("1", []), [
      [added(obj("a", "2")), added(obj("b", "3"))],
      [added(obj("c", "4")), bookmark("4", true), modified(obj("a", "5")), deleted(obj("b", "6"))],
      [modified(obj("c", "7"))],
    ]);
    const gen = watcherBatches(source, { signal: signal(), streamingList: true });
    assert.deepEqual(await takeBatches(gen, 6), [
      ["init-start initial streaming"],
      ["init-object a@2", "init-object b@3"],
      ["init-object c@4"],
      ["init-done 4"],
      ["apply a@5", "delete b@6"],
      ["apply c@7"],
    ]);
    assert.equal(opened.length, 1, "the streaming list's watch goes on as the live watch");
    await gen.return(undefined);
  });

  it("delivers the events read before an ERROR, then the error, and drops what follows it", async () => {
    const { source, opened } = batched(
      page("1", [obj("a", "1")]),
      [[modified(obj("a", "2")), errorEvent(apiError("Gone", 410)), modified(obj("a", "99"))]],
      [[modified(obj("a", "3"))]],
    );
    const gen = watcherBatches(source, { signal: signal(), streamingList: false });
    assert.deepEqual(await takeBatches(gen, 8), [
      ["init-start initial"],
      ["init-object a@1"],
      ["init-done 1"],
      ["apply a@2"],
      ["error Gone"],
      ["init-start relist"],
      ["init-object a@1"],
      ["init-done 1"],
    ]);
    assert.deepEqual(await takeBatches(gen, 1), [["apply a@3"]]);
    assert.equal(opened[0]?.resourceVersion, "1");
    await gen.return(undefined);
  });

  it("gives a paginated list's page as one batch", async () => {
    const { source } = batched(page("9", [obj("a", "1"), obj("b", "2"), obj("c", "3")]));
    const gen = watcherBatches(source, { signal: signal(), streamingList: false });
    assert.deepEqual(await takeBatches(gen, 3), [
      ["init-start initial"],
      ["init-object a@1", "init-object b@2", "init-object c@3"],
      ["init-done 9"],
    ]);
    await gen.return(undefined);
  });
});

describe("watcher over a batched source", () => {
  it("yields the batches' events one by one, in order", async () => {
    const { source } = batched(page("1", []), [
      [added(obj("a", "2")), bookmark("2", true), modified(obj("a", "3")), bookmark("4")],
    ]);
    const gen = watcher(source, { signal: signal(), streamingList: true });
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await gen.next();
      assert.ok(!r.done);
      seen.push(show(r.value));
    }
    assert.deepEqual(seen, [
      "init-start initial streaming",
      "init-object a@2",
      "init-done 2",
      "apply a@3",
      "bookmark 4",
    ]);
    await gen.return(undefined);
  });

  it("yields nothing more of a batch once its signal has aborted", async () => {
    const { source } = batched(page("1", []), [[modified(obj("a", "2")), modified(obj("a", "3"))]]);
    const controller = new AbortController();
    controllers.push(controller);
    const gen = watcher(source, { signal: controller.signal, streamingList: false });
    for (let i = 0; i < 2; i++) await gen.next(); // init-start, init-done: the list is empty
    assert.equal(show((await gen.next()).value as WatcherEvent<KubeObject>), "apply a@2");
    controller.abort();
    assert.equal((await gen.next()).done, true);
  });
});

describe("Informer over a batched source", () => {
  it("stores and tells handlers everything a batch holds, in order, across the end of a streaming list", async () => {
    const { source } = batched(page("1", []), [
      [
        added(obj("a", "2")),
        added(obj("b", "3")),
        bookmark("3", true),
        modified(obj("a", "4")),
        deleted(obj("b", "5")),
      ],
      [added(obj("c", "6"))],
    ]);
    const informer = new Informer(source, { streamingList: true });
    const seen: string[] = [];
    informer.addHandlers({
      add: (o, { origin }) => void seen.push(`add ${o.metadata.name}@${o.metadata.resourceVersion} ${origin}`),
      update: (_, o, { origin }) => void seen.push(`update ${o.metadata.name}@${o.metadata.resourceVersion} ${origin}`),
      delete: (o, { origin }) => void seen.push(`delete ${o.metadata.name}@${o.metadata.resourceVersion} ${origin}`),
    });
    informer.start(signal());
    try {
      await informer.synced(AbortSignal.timeout(3000));
      await waitFor("every event", () => seen.length >= 5);
      await informer.idle();
      assert.deepEqual(seen, [
        "add a@2 initial",
        "add b@3 initial",
        "update a@4 live",
        "delete b@5 live",
        "add c@6 live",
      ]);
      assert.deepEqual(informer.store.keys().sort(), ["ns/a", "ns/c"]);
      assert.equal(informer.status().resourceVersion, "6");
    } finally {
      await informer.stop();
    }
  });

  it("neither stores nor tells anything more of a batch once a handler has stopped the informer", async () => {
    const { source } = batched(page("1", [obj("a", "1")]), [
      [modified(obj("a", "2")), modified(obj("a", "3")), modified(obj("a", "4"))],
    ]);
    const informer = new Informer(source, { streamingList: false });
    const seen: string[] = [];
    let stopping: Promise<void> | undefined;
    informer.addHandlers({
      update: (_, o) => {
        seen.push(`${o.metadata.resourceVersion}`);
        stopping ??= informer.stop();
      },
    });
    informer.start(signal());
    await waitFor("the first update", () => seen.length > 0);
    await stopping;
    assert.deepEqual(seen, ["2"]);
    assert.equal(informer.store.get("ns/a")?.metadata.resourceVersion, "2");
  });
});
