/**
 * The watcher's state machine, driven by a scripted in-memory ListWatch: paginated and streaming lists, re-watches,
 * bookmarks, Gone and relists, errors with backoff, the idle timeout, and prompt, clean ends.
 */
import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { type WatcherEvent, type WatcherOptions, watcher } from "../../src/cache/watcher.js";
import { ApiError } from "../../src/http/errors.js";
import { Recovery } from "../../src/http/recovery.js";
import type { KubeObject } from "../../src/object/types.js";
import {
  added,
  apiError,
  bookmark,
  deleted,
  errorEvent,
  modified,
  obj,
  page,
  ScriptedListWatch,
  type ScriptedWatch,
  show,
} from "../support/listwatch.js";
import { waitFor } from "../support/wait.js";

type Gen = AsyncGenerator<WatcherEvent<KubeObject>>;

/** The next event, or a failure after `ms`. */
async function next(gen: Gen, ms = 2000): Promise<WatcherEvent<KubeObject>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no watcher event within ${ms} ms`)), ms);
  });
  try {
    const r = await Promise.race([gen.next(), timeout]);
    if (r.done) throw new Error("the watcher ended");
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

async function take(gen: Gen, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(show(await next(gen)));
  return out;
}

/** Resolves with how long `promise` took; fails after `ms`. */
async function within<V>(ms: number, promise: Promise<V>, what: string): Promise<V> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const running: { controller: AbortController; gen: Gen }[] = [];

function start(src: ScriptedListWatch, options: WatcherOptions = {}): { gen: Gen; controller: AbortController } {
  const controller = new AbortController();
  const gen = watcher(src, {
    signal: controller.signal,
    streamingList: false,
    minWatchTimeoutSeconds: 1,
    backoff: { initialMs: 5, maxMs: 40 },
    ...options,
  });
  running.push({ controller, gen });
  return { gen, controller };
}

afterEach(async () => {
  for (const { controller, gen } of running.splice(0)) {
    controller.abort();
    await gen.return(undefined);
  }
});

describe("watcher: lists", () => {
  it("lists page by page with continue tokens, then watches from the list's resourceVersion", async () => {
    const src = new ScriptedListWatch()
      .replyToList(
        page("7", [obj("a", "3"), obj("b", "4")], "tok-1"),
        page("7", [obj("c", "5")], "tok-2"),
        page("7", []),
      )
      .onWatch((w) => w.push(modified(obj("a", "8"))));
    const { gen, controller } = start(src, { pageSize: 2 });
    assert.deepEqual(await take(gen, 6), [
      "init-start initial",
      "init-object a@3",
      "init-object b@4",
      "init-object c@5",
      "init-done 7",
      "apply a@8",
    ]);
    assert.deepEqual(
      src.lists.map(({ limit, continue: token, signal }) => ({ limit, token, signal })),
      [
        { limit: 2, token: undefined, signal: controller.signal },
        { limit: 2, token: "tok-1", signal: controller.signal },
        { limit: 2, token: "tok-2", signal: controller.signal },
      ],
    );
    const opts = src.watches[0]?.opts;
    assert.equal(opts?.resourceVersion, "7");
    assert.equal(opts?.allowWatchBookmarks, true);
    assert.equal(opts?.sendInitialEvents, undefined);
    assert.ok(opts?.timeoutSeconds !== undefined && opts.timeoutSeconds >= 1 && opts.timeoutSeconds < 2);
    assert.ok(
      opts?.signal instanceof AbortSignal && opts.signal !== controller.signal,
      "each watch has its own signal",
    );
  });

  it("falls back to one full list when a later page's continue token has expired, discarding the pages before", async () => {
    // Every continue token expires, as when each list outlives etcd's compaction window: restarting from page 1 would
    // never end.
    const src = new ScriptedListWatch();
    src.defaultList = (opts) => {
      if (opts.continue) return apiError("Gone", 410, "the provided continue parameter is too old");
      if (opts.limit) return page("7", [obj("a", "3")], "tok-1");
      return page("9", [obj("a", "8"), obj("b", "9")]);
    };
    src.onWatch((w) => w.push(modified(obj("a", "10"))));
    const { gen, controller } = start(src, { pageSize: 1 });
    assert.deepEqual(await take(gen, 7), [
      "init-start initial",
      "init-object a@3",
      "init-start initial",
      "init-object a@8",
      "init-object b@9",
      "init-done 9",
      "apply a@10",
    ]);
    assert.deepEqual(
      src.lists.map(({ limit, continue: token, resourceVersion, signal }) => ({
        limit,
        token,
        resourceVersion,
        signal,
      })),
      [
        { limit: 1, token: undefined, resourceVersion: undefined, signal: controller.signal },
        { limit: 1, token: "tok-1", resourceVersion: undefined, signal: controller.signal },
        { limit: undefined, token: undefined, resourceVersion: undefined, signal: controller.signal },
      ],
    );
    assert.equal(src.watches[0]?.opts.resourceVersion, "9");
  });

  it("reports a Gone first page as any failed list: only a later page falls back to a full list", async () => {
    const src = new ScriptedListWatch().replyToList(apiError("Gone", 410), page("4", []));
    const { gen } = start(src, { pageSize: 1 });
    assert.deepEqual(await take(gen, 4), ["init-start initial", "error Gone", "init-start initial", "init-done 4"]);
    assert.ok(src.lists.every((l) => l.limit === 1));
  });

  it('reads the first list at resourceVersion "0" when asked, and relists after Gone consistently', async () => {
    const src = new ScriptedListWatch()
      .replyToList(page("7", [obj("a", "3")], "tok-1"), page("7", [obj("b", "4")]), page("9", [obj("a", "9")]))
      .onWatch((w) => w.push(errorEvent(apiError("Gone", 410))));
    const { gen } = start(src, { pageSize: 1, initialListResourceVersion: "0" });
    assert.deepEqual(await take(gen, 8), [
      "init-start initial",
      "init-object a@3",
      "init-object b@4",
      "init-done 7",
      "error Gone",
      "init-start relist",
      "init-object a@9",
      "init-done 9",
    ]);
    assert.deepEqual(
      src.lists.map(({ limit, continue: token, resourceVersion }) => ({ limit, token, resourceVersion })),
      [
        { limit: 1, token: undefined, resourceVersion: "0" },
        { limit: 1, token: "tok-1", resourceVersion: undefined },
        { limit: 1, token: undefined, resourceVersion: undefined },
      ],
      "a continue token goes alone; a relist must not read older than what was seen",
    );
  });

  it('falls back to a full list at resourceVersion "0" when the first list asked for it and a page expired', async () => {
    const src = new ScriptedListWatch().replyToList(
      page("7", [obj("a", "3")], "tok-1"),
      apiError("Gone", 410, "the provided continue parameter is too old"),
      page("8", [obj("a", "3"), obj("b", "8")]),
    );
    const { gen } = start(src, { pageSize: 1, initialListResourceVersion: "0" });
    assert.deepEqual(await take(gen, 6), [
      "init-start initial",
      "init-object a@3",
      "init-start initial",
      "init-object a@3",
      "init-object b@8",
      "init-done 8",
    ]);
    assert.deepEqual(
      src.lists.map(({ limit, continue: token, resourceVersion }) => ({ limit, token, resourceVersion })),
      [
        { limit: 1, token: undefined, resourceVersion: "0" },
        { limit: 1, token: "tok-1", resourceVersion: undefined },
        { limit: undefined, token: undefined, resourceVersion: "0" },
      ],
    );
  });

  it("builds the initial state with a streaming list ending at the initial-events-end bookmark, then goes on watching it", async () => {
    const src = new ScriptedListWatch().onWatch((w) =>
      w.push(
        added(obj("a", "3")),
        bookmark("5"), // an ordinary bookmark in the middle is no end
        added(obj("b", "4")),
        bookmark("9", true),
        modified(obj("a", "10")),
        deleted(obj("b", "11")),
      ),
    );
    const { gen } = start(src, { streamingList: "auto" });
    assert.deepEqual(await take(gen, 6), [
      "init-start initial streaming",
      "init-object a@3",
      "init-object b@4",
      "init-done 9",
      "apply a@10",
      "delete b@11",
    ]);
    assert.equal(src.lists.length, 0);
    assert.equal(src.watches.length, 1, "the streaming list's watch goes on as the live watch");
    const opts = src.watches[0]?.opts;
    assert.equal(opts?.sendInitialEvents, true);
    assert.equal(opts?.resourceVersionMatch, "NotOlderThan");
    assert.equal(opts?.resourceVersion, "");
    assert.equal(opts?.allowWatchBookmarks, true);

    src.watches[0]?.end();
    const pending = next(gen);
    await waitFor("the re-watch", () => src.watches.length === 2, { timeoutMs: 2000 });
    assert.equal(src.watches[1]?.opts.resourceVersion, "11");
    assert.equal(src.watches[1]?.opts.sendInitialEvents, undefined);
    src.watches[1]?.push(modified(obj("c", "12")));
    assert.equal(show(await pending), "apply c@12");
  });

  for (const [what, refusal] of [
    [
      "as a server whose WatchList feature is off does",
      apiError(
        "Invalid",
        422,
        'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled',
      ),
    ],
    ["with a 400 from anywhere", apiError("BadRequest", 400)],
  ] as const) {
    it(`falls back to a paginated list when a streaming list is refused ${what}, and streams the next relist`, async () => {
      const src = new ScriptedListWatch()
        .onWatch(
          (w) => w.fail(refusal),
          (w) => w.push(errorEvent(apiError("Gone", 410))),
          (w) => w.push(added(obj("a", "6")), bookmark("7", true)),
        )
        .replyToList(page("5", [obj("a", "5")]));
      const { gen } = start(src, { streamingList: "auto" });
      assert.deepEqual(await take(gen, 8), [
        "init-start initial streaming",
        "init-start initial",
        "init-object a@5",
        "init-done 5",
        "error Gone",
        "init-start relist streaming",
        "init-object a@6",
        "init-done 7",
      ]);
      assert.equal(src.lists.length, 1);
      assert.deepEqual(
        src.watches.map((w) => w.opts.sendInitialEvents ?? false),
        [true, false, true],
      );
      assert.equal(src.watches[0]?.returned, true, "the refused stream was closed");
    });
  }

  it("discards what a refused streaming list had already sent", async () => {
    const src = new ScriptedListWatch()
      .onWatch((w) => w.push(added(obj("partial", "1"))).fail(apiError("BadRequest", 400)))
      .replyToList(page("5", [obj("a", "5")]));
    const { gen } = start(src, { streamingList: "auto" });
    assert.deepEqual(await take(gen, 5), [
      "init-start initial streaming",
      "init-object partial@1",
      "init-start initial",
      "init-object a@5",
      "init-done 5",
    ]);
  });

  it("falls back to one paginated list when a streaming list fails otherwise, and streams the next relist", async () => {
    const src = new ScriptedListWatch()
      .onWatch(
        (w) => w.fail(apiError("InternalError", 500)),
        (w) => w.push(errorEvent(apiError("Gone", 410))),
        (w) => w.push(bookmark("7", true)),
      )
      .replyToList(page("5", [obj("a", "5")]));
    const { gen } = start(src, { streamingList: "auto" });
    assert.deepEqual(await take(gen, 7), [
      "init-start initial streaming",
      "init-start initial",
      "init-object a@5",
      "init-done 5",
      "error Gone",
      "init-start relist streaming",
      "init-done 7",
    ]);
    assert.equal(src.lists.length, 1);
  });

  it("lets a streaming list fail at once on a 429 and lists instead, rather than waiting out its Retry-After", async () => {
    // A watch cache still filling (a new CRD's) answers a streaming list 429 with Retry-After: 1 s; a list is served.
    const src = new ScriptedListWatch()
      .onWatch((w) => w.fail(apiError("TooManyRequests", 429, "storage is (re)initializing")))
      .replyToList(page("5", [obj("a", "5")]));
    const { gen } = start(src, { streamingList: "auto" });
    assert.deepEqual(await take(gen, 4), [
      "init-start initial streaming",
      "init-start initial",
      "init-object a@5",
      "init-done 5",
    ]);
    assert.equal(src.watches[0]?.opts.maxRetries, 0, "the source is asked not to retry the streaming list");
    const pending = next(gen);
    await waitFor("the watch after the list", () => src.watches.length === 2, { timeoutMs: 2000 });
    assert.equal(src.watches[1]?.opts.resourceVersion, "5");
    assert.equal(src.watches[1]?.opts.maxRetries, undefined, "the watch keeps the transport's retries");
    src.watches[1]?.push(modified(obj("a", "6")));
    assert.equal(show(await pending), "apply a@6");
  });

  it("keeps the transport's retries for a streaming list asked for explicitly: it has nothing to fall back to", async () => {
    const src = new ScriptedListWatch().onWatch((w) => w.push(bookmark("3", true)));
    const { gen } = start(src, { streamingList: true });
    assert.deepEqual(await take(gen, 2), ["init-start initial streaming", "init-done 3"]);
    assert.equal(src.watches[0]?.opts.maxRetries, undefined);
  });

  it("reports the fallback list's failure, after which streaming is tried again", async () => {
    const src = new ScriptedListWatch()
      .onWatch(
        (w) => w.fail(apiError("Timeout", 504)),
        (w) => w.push(bookmark("3", true)),
      )
      .replyToList(apiError("InternalError", 500, "conversion webhook failed"));
    const { gen } = start(src, { streamingList: "auto" });
    assert.deepEqual(await take(gen, 5), [
      "init-start initial streaming",
      "init-start initial",
      "error InternalError",
      "init-start initial streaming",
      "init-done 3",
    ]);
  });

  it("reports a refused streaming list when streaming was asked for explicitly, and does not fall back", async () => {
    const src = new ScriptedListWatch().onWatch(
      (w) => w.fail(apiError("Invalid", 422)),
      (w) => w.push(bookmark("3", true)),
    );
    const { gen } = start(src, { streamingList: true });
    assert.deepEqual(await take(gen, 4), [
      "init-start initial streaming",
      "error Invalid",
      "init-start initial streaming",
      "init-done 3",
    ]);
  });

  it("reports a streaming list that ends before its end bookmark (streaming asked for explicitly)", async () => {
    const src = new ScriptedListWatch().onWatch(
      (w) => w.push(added(obj("a", "1"))).end(),
      (w) => w.push(bookmark("3", true)),
    );
    const { gen } = start(src, { streamingList: true });
    const events = await take(gen, 5);
    assert.deepEqual(events, [
      "init-start initial streaming",
      "init-object a@1",
      "error Network",
      "init-start initial streaming",
      "init-done 3",
    ]);
  });
});

describe("watcher: watching", () => {
  it("re-watches from the last resourceVersion when a stream ends, without an error or a relist", async () => {
    const src = new ScriptedListWatch()
      .replyToList(page("5", []))
      .onWatch((w) => w.push(added(obj("a", "6")), modified(obj("a", "12"))).end());
    const { gen } = start(src);
    assert.deepEqual(await take(gen, 4), ["init-start initial", "init-done 5", "apply a@6", "apply a@12"]);
    const pending = next(gen);
    await waitFor("the re-watch", () => src.watches.length === 2, { timeoutMs: 2000 });
    assert.equal(src.watches[1]?.opts.resourceVersion, "12");
    assert.equal(src.watches[0]?.returned, true);
    src.watches[1]?.push(deleted(obj("a", "13")));
    assert.equal(show(await pending), "delete a@13");
    assert.equal(src.lists.length, 1);
  });

  it("advances the resourceVersion on bookmarks", async () => {
    const src = new ScriptedListWatch()
      .replyToList(page("5", []))
      .onWatch((w) => w.push(added(obj("a", "6")), bookmark("20")).end());
    const { gen } = start(src);
    assert.deepEqual(await take(gen, 4), ["init-start initial", "init-done 5", "apply a@6", "bookmark 20"]);
    const pending = next(gen);
    await waitFor("the re-watch", () => src.watches.length === 2, { timeoutMs: 2000 });
    assert.equal(src.watches[1]?.opts.resourceVersion, "20");
    src.watches[1]?.push(bookmark("21"));
    assert.equal(show(await pending), "bookmark 21");
  });

  it("relists after an ERROR event with a Gone error, and after a Gone thrown by the stream", async () => {
    const src = new ScriptedListWatch()
      .replyToList(page("5", [obj("a", "5")]), page("9", [obj("b", "9")]), page("12", []))
      .onWatch(
        (w) => w.push(added(obj("x", "6")), errorEvent(apiError("Gone", 410, "too old resource version"))),
        (w) => w.push(added(obj("y", "10"))).fail(apiError("Gone", 410)),
      );
    const { gen } = start(src);
    const events: WatcherEvent<KubeObject>[] = [];
    for (let i = 0; i < 12; i++) events.push(await next(gen));
    assert.deepEqual(events.map(show), [
      "init-start initial",
      "init-object a@5",
      "init-done 5",
      "apply x@6",
      "error Gone",
      "init-start relist",
      "init-object b@9",
      "init-done 9",
      "apply y@10",
      "error Gone",
      "init-start relist",
      "init-done 12",
    ]);
    const gone = events.filter((e) => e.type === "error");
    assert.equal(gone[0]?.type === "error" && gone[0].retryInMs, 0, "a first Gone relists at once");
    void next(gen).catch(() => {});
    await waitFor("the watch after the second relist", () => src.watches.length === 3, { timeoutMs: 2000 });
    assert.deepEqual(
      src.watches.map((w) => w.opts.resourceVersion),
      ["5", "9", "12"],
    );
  });

  it("relists at once on the Gone that is the server's first answer after an outage, however far the backoff grew", async () => {
    const reset = () => apiError("Network", 0, "connection refused");
    const src = new ScriptedListWatch().replyToList(page("5", []), page("9", [])).onWatch(
      (w) => w.fail(reset()),
      (w) => w.fail(reset()),
      (w) => w.fail(reset()),
      (w) => w.fail(reset()),
      // A restarted server's watch cache starts at etcd's revision now: our resourceVersion is too old for it.
      (w) => w.push(errorEvent(apiError("Gone", 410, "too old resource version: 5 (9)"))),
    );
    const { gen } = start(src, { backoff: { initialMs: 8, maxMs: 64, random: () => 0 } });
    const events: WatcherEvent<KubeObject>[] = [];
    while (events.filter((e) => e.type === "init-done").length < 2) events.push(await next(gen));
    assert.deepEqual(
      events.filter((e) => e.type === "error").map((e) => (e.type === "error" ? `${e.error.kind} ${e.retryInMs}` : "")),
      ["Network 4", "Network 8", "Network 16", "Network 32", "Gone 0"],
    );
    assert.equal(src.lists.length, 2);
  });

  it("does not spin when every watch answers Gone: the relists back off", async () => {
    const src = new ScriptedListWatch();
    src.defaultList = () => page(String(src.lists.length + 100), []);
    src.defaultWatch = (w) => w.push(errorEvent(apiError("Gone", 410)));
    const { gen } = start(src, { backoff: { initialMs: 20, maxMs: 80, random: () => 0.5 } });
    const retries: number[] = [];
    const started = Date.now();
    while (retries.length < 5) {
      const e = await next(gen);
      if (e.type === "error") retries.push(e.retryInMs);
    }
    const elapsed = Date.now() - started;
    assert.deepEqual(retries, [0, 30, 60, 60, 60]);
    assert.ok(elapsed >= 145, `5 relists took ${elapsed} ms, less than their backoff of 150 ms`);
    assert.equal(src.lists.length, 5);
    assert.equal(src.watches.length, 5);
  });
});

describe("watcher: errors", () => {
  it("reports each failed list as an error event with growing backoff, and retries, never throwing", async () => {
    const src = new ScriptedListWatch();
    src.defaultList = apiError("ServiceUnavailable", 503);
    const { gen } = start(src, { backoff: { initialMs: 8, maxMs: 64, random: () => 0 } });
    const errors: { kind: string; retryInMs: number; at: number }[] = [];
    const started = Date.now();
    while (errors.length < 6) {
      const e = await next(gen);
      if (e.type === "error") errors.push({ kind: e.error.kind, retryInMs: e.retryInMs, at: Date.now() - started });
      else assert.equal(show(e), "init-start initial");
    }
    assert.deepEqual(
      errors.map((e) => e.retryInMs),
      [4, 8, 16, 32, 32, 32],
    );
    assert.ok(errors.every((e) => e.kind === "ServiceUnavailable"));
    for (let i = 1; i < errors.length; i++) {
      const gap = (errors[i]?.at ?? 0) - (errors[i - 1]?.at ?? 0);
      assert.ok(gap >= (errors[i - 1]?.retryInMs ?? 0) - 1, `retry ${i} came after ${gap} ms`);
    }
    assert.equal(src.lists.length, 6, "one list call per error: no hidden retries, no spinning");
  });

  it("waits at least as long as a 429's Retry-After asks, over a shorter backoff", async () => {
    const throttled = (retryAfterSeconds: number) =>
      new ApiError({ kind: "TooManyRequests", status: 429, message: "throttled", details: { retryAfterSeconds } });
    const src = new ScriptedListWatch().replyToList(throttled(1), page("5", []));
    const { gen } = start(src, { backoff: { initialMs: 8, maxMs: 64, random: () => 0 } });
    assert.deepEqual(await take(gen, 1), ["init-start initial"]);
    const error = await next(gen);
    const reported = Date.now();
    assert.equal(error.type === "error" && error.retryInMs, 1000);
    assert.deepEqual(await take(gen, 2), ["init-start initial", "init-done 5"]);
    const waited = Date.now() - reported;
    assert.ok(waited >= 990, `retried after ${waited} ms`);
  });

  it("caps what Retry-After asks at a minute, and ends at once when stopped during that wait", async () => {
    const src = new ScriptedListWatch().replyToList(
      new ApiError({ kind: "ServiceUnavailable", status: 503, message: "busy", details: { retryAfterSeconds: 3600 } }),
    );
    const { gen, controller } = start(src);
    assert.deepEqual(await take(gen, 1), ["init-start initial"]);
    const error = await next(gen);
    assert.equal(error.type === "error" && error.retryInMs, 60_000);
    const pending = gen.next();
    controller.abort();
    assert.deepEqual(await within(500, pending, "ending"), { done: true, value: undefined });
    assert.equal(src.lists.length, 1);
  });

  it("reports a watch that keeps closing at once without events, backs off, and does not relist", async () => {
    const src = new ScriptedListWatch().replyToList(page("5", []));
    src.defaultWatch = (w) => w.end();
    const { gen } = start(src, { backoff: { initialMs: 8, maxMs: 64, random: () => 0 } });
    assert.deepEqual(await take(gen, 2), ["init-start initial", "init-done 5"]);
    const errors: WatcherEvent<KubeObject>[] = [];
    for (let i = 0; i < 5; i++) errors.push(await next(gen));
    assert.deepEqual(
      errors.map((e) => (e.type === "error" ? `${e.error.kind} ${e.retryInMs}` : show(e))),
      ["Network 4", "Network 8", "Network 16", "Network 32", "Network 32"],
    );
    assert.match(errors[0]?.type === "error" ? errors[0].error.message : "", /closed at once without an event/);
    assert.equal(src.lists.length, 1);
    assert.ok(src.watches.length <= 6, `${src.watches.length} watches for 5 errors`);
    assert.ok(src.watches.every((w) => w.opts.resourceVersion === "5"));
  });

  it("reports broken streams and re-watches from where it was after the backoff", async () => {
    const src = new ScriptedListWatch().replyToList(page("5", [])).onWatch(
      (w) => w.push(added(obj("a", "6"))).fail(apiError("Network", 0, "connection reset")),
      (w) => w.push(modified(obj("a", "7"))),
    );
    const { gen } = start(src);
    assert.deepEqual(await take(gen, 5), [
      "init-start initial",
      "init-done 5",
      "apply a@6",
      "error Network",
      "apply a@7",
    ]);
    assert.equal(src.watches[1]?.opts.resourceVersion, "6");
  });

  it("reports what the source throws that is not an ApiError, and a source that throws on watch()", async () => {
    let calls = 0;
    const src = new ScriptedListWatch().replyToList(
      () => {
        throw new TypeError("list exploded");
      },
      page("5", []),
    );
    const watch = src.watch.bind(src);
    src.watch = (opts) => {
      if (++calls === 1) throw new Error("watch exploded");
      return watch(opts);
    };
    const { gen } = start(src);
    const events: WatcherEvent<KubeObject>[] = [];
    for (let i = 0; i < 5; i++) events.push(await next(gen));
    assert.deepEqual(events.map(show), [
      "init-start initial",
      "error Unknown",
      "init-start initial",
      "init-done 5",
      "error Unknown",
    ]);
    const [first, second] = events.filter((e) => e.type === "error");
    assert.match(first?.type === "error" ? first.error.message : "", /configmaps\/v1 \(scripted\): list exploded/);
    assert.match(second?.type === "error" ? second.error.message : "", /watch exploded/);
    void next(gen).catch(() => {});
    await waitFor("the re-watch", () => src.watches.length === 1, { timeoutMs: 2000 });
  });
});

describe("watcher: waking from the backoff when the server is back", () => {
  /** A Recovery on a scripted probe that fails until `server.up`; it probes every 20 ms. */
  function recoveryOf(server: { up: boolean; probes: number }) {
    return new Recovery(
      async () => {
        server.probes++;
        if (!server.up) throw apiError("Network", 0, "connection refused");
      },
      { intervalMs: 20 },
    );
  }

  it("re-watches as soon as its recovery sees the server answer again, long before the backoff ends", async () => {
    const server = { up: false, probes: 0 };
    const src = new ScriptedListWatch().replyToList(page("5", []));
    src.onWatch((w) => w.fail(apiError("Network", 0, "connection reset")));
    src.recovery = recoveryOf(server);
    const { gen } = start(src, { backoff: { initialMs: 120_000, maxMs: 120_000, random: () => 0 } });
    assert.deepEqual(await take(gen, 2), ["init-start initial", "init-done 5"]);
    const error = await next(gen);
    assert.equal(error.type === "error" && error.retryInMs, 60_000);
    const pending = next(gen, 10_000).catch(() => undefined);
    await waitFor("probes while the server is down", () => server.probes >= 2, { timeoutMs: 5000 });
    assert.equal(src.watches.length, 1, "no re-watch while the server is down");
    server.up = true;
    await waitFor("the re-watch once the server answers", () => src.watches.length === 2, { timeoutMs: 5000 });
    assert.equal(src.watches[1]?.opts.resourceVersion, "5");
    assert.equal(src.lists.length, 1);
    src.lastWatch?.push(added(obj("a", "6")));
    assert.equal(show((await pending) as WatcherEvent<KubeObject>), "apply a@6");
  });

  it("waits out the backoff of a refusal (403) without probing", async () => {
    const server = { up: true, probes: 0 };
    const src = new ScriptedListWatch().replyToList(apiError("Forbidden", 403), page("5", []));
    src.recovery = recoveryOf(server);
    const { gen } = start(src, { backoff: { initialMs: 600, maxMs: 600, random: () => 0 } });
    assert.deepEqual(await take(gen, 1), ["init-start initial"]);
    const forbidden = await next(gen);
    const forbiddenAt = Date.now();
    assert.equal(forbidden.type === "error" && forbidden.retryInMs, 300);
    assert.deepEqual(await take(gen, 2), ["init-start initial", "init-done 5"]);
    assert.ok(Date.now() - forbiddenAt >= 295, "the 403's backoff was waited out");
    assert.equal(server.probes, 0, "no probe for a refusal");
  });

  it("waits for a 503's Retry-After even when the server is seen back sooner, and no longer", async () => {
    const server = { up: false, probes: 0 };
    const unavailable = new ApiError({
      kind: "ServiceUnavailable",
      status: 503,
      message: "not ready",
      details: { retryAfterSeconds: 1 },
    });
    const src = new ScriptedListWatch().replyToList(unavailable, page("5", []));
    src.recovery = recoveryOf(server);
    const { gen } = start(src, { backoff: { initialMs: 120_000, maxMs: 120_000, random: () => 0 } });
    assert.deepEqual(await take(gen, 1), ["init-start initial"]);
    const error = await next(gen);
    const failedAt = Date.now();
    assert.equal(error.type === "error" && error.retryInMs, 60_000);
    const retried = take(gen, 2);
    await waitFor("the probe to see the server down", () => server.probes >= 1, { timeoutMs: 2000 });
    server.up = true;
    assert.deepEqual(await within(10_000, retried, "the retry"), ["init-start initial", "init-done 5"]);
    assert.ok(Date.now() - failedAt >= 990, `retried ${Date.now() - failedAt} ms after a Retry-After of 1 s`);
  });
});

describe("watcher: idle timeout", () => {
  for (const honorSignal of [true, false]) {
    it(`reopens a silent watch without an error event and without a relist (source honours its signal: ${honorSignal})`, async () => {
      const src = new ScriptedListWatch().replyToList(page("5", []));
      src.honorSignal = honorSignal;
      const { gen } = start(src, { idleTimeoutMs: 40 });
      assert.deepEqual(await take(gen, 2), ["init-start initial", "init-done 5"]);
      const pending = next(gen, 5000);
      await waitFor("two reopened watches", () => src.watches.length >= 3, { timeoutMs: 3000 });
      const silent = src.watches.slice(0, 2);
      assert.ok(
        silent.every((w) => w.returned && w.opts.signal?.aborted),
        "the silent watches were closed",
      );
      assert.ok(src.watches.every((w) => w.opts.resourceVersion === "5"));
      src.lastWatch?.push(added(obj("a", "6")));
      assert.equal(show(await pending), "apply a@6", "no error event came first");
      assert.equal(src.lists.length, 1);
    });
  }

  it("does not count the time the consumer spends between events", async () => {
    const src = new ScriptedListWatch().replyToList(page("5", [])).onWatch((w) => w.push(added(obj("a", "6"))));
    const { gen } = start(src, { idleTimeoutMs: 40 });
    assert.deepEqual(await take(gen, 3), ["init-start initial", "init-done 5", "apply a@6"]);
    await new Promise((r) => setTimeout(r, 150)); // a busy consumer, three idle timeouts long
    const pending = next(gen);
    src.watches[0]?.push(added(obj("b", "7")));
    assert.equal(show(await pending), "apply b@7");
    assert.equal(src.watches.length, 1);
  });

  it("reports a streaming list that goes silent, since nothing has been listed yet (streaming asked for)", async () => {
    const src = new ScriptedListWatch().onWatch(
      (w) => w.push(added(obj("a", "1"))),
      (w) => w.push(bookmark("3", true)),
    );
    const { gen } = start(src, { streamingList: true, idleTimeoutMs: 40 });
    const events = await take(gen, 5);
    assert.deepEqual(events, [
      "init-start initial streaming",
      "init-object a@1",
      "error Timeout",
      "init-start initial streaming",
      "init-done 3",
    ]);
  });
});

describe("watcher: ending", () => {
  for (const honorSignal of [true, false]) {
    it(`ends promptly when the signal aborts during a watch, and closes it (source honours its signal: ${honorSignal})`, async () => {
      const src = new ScriptedListWatch().replyToList(page("5", []));
      src.honorSignal = honorSignal;
      const { gen, controller } = start(src);
      await take(gen, 2);
      const pending = gen.next();
      await waitFor("the watch", () => src.watches.length === 1, { timeoutMs: 2000 });
      controller.abort();
      assert.deepEqual(await within(500, pending, "ending"), { done: true, value: undefined });
      assert.equal(src.watches[0]?.returned, true);
      assert.equal(src.watches[0]?.opts.signal?.aborted, true);
    });
  }

  it("ends promptly when the signal aborts during a backoff delay", async () => {
    const src = new ScriptedListWatch();
    const { gen, controller } = start(src, { backoff: { initialMs: 60_000 } });
    assert.deepEqual(await take(gen, 2), ["init-start initial", "error InternalError"]);
    const pending = gen.next();
    controller.abort();
    assert.deepEqual(await within(500, pending, "ending"), { done: true, value: undefined });
    assert.equal(src.lists.length, 1);
  });

  it("ends promptly when the signal aborts during a list the source never answers", async () => {
    const src = new ScriptedListWatch().replyToList(() => new Promise(() => {}));
    const { gen, controller } = start(src);
    assert.deepEqual(await take(gen, 1), ["init-start initial"]);
    const pending = gen.next();
    await waitFor("the list call", () => src.lists.length === 1, { timeoutMs: 2000 });
    controller.abort();
    assert.deepEqual(await within(500, pending, "ending"), { done: true, value: undefined });
  });

  it("stops in the middle of a page once the signal has aborted", async () => {
    const src = new ScriptedListWatch().replyToList(page("5", [obj("a", "1"), obj("b", "2"), obj("c", "3")]));
    const { gen, controller } = start(src);
    assert.deepEqual(await take(gen, 2), ["init-start initial", "init-object a@1"]);
    controller.abort();
    assert.deepEqual(await gen.next(), { done: true, value: undefined });
  });

  it("closes the open stream when the consumer stops in the middle of a streaming list", async () => {
    const src = new ScriptedListWatch().onWatch((w) => w.push(added(obj("a", "1")), added(obj("b", "2"))));
    const gen = watcher(src, { streamingList: true });
    assert.deepEqual(await take(gen, 2), ["init-start initial streaming", "init-object a@1"]);
    await gen.return(undefined);
    assert.equal(src.watches[0]?.returned, true);
  });

  it("closes the streaming list's watch when the consumer stops right after the list", async () => {
    const src = new ScriptedListWatch().onWatch((w) => w.push(bookmark("3", true)));
    const gen = watcher(src, { streamingList: true });
    assert.deepEqual(await take(gen, 2), ["init-start initial streaming", "init-done 3"]);
    await gen.return(undefined);
    assert.equal(src.watches[0]?.returned, true);
  });

  it("closes the streaming list's watch when the consumer stops at an object read together with the end bookmark", async () => {
    const src = new ScriptedListWatch({ reads: true }).onWatch((w) =>
      w.push(added(obj("a", "1")), added(obj("b", "2")), bookmark("3", true), modified(obj("a", "4"))),
    );
    const gen = watcher(src, { streamingList: true });
    assert.deepEqual(await take(gen, 2), ["init-start initial streaming", "init-object a@1"]);
    await gen.return(undefined);
    assert.equal(src.watches[0]?.returned, true, "the watch was closed");
    assert.equal(src.watches[0]?.opts.signal?.aborted, true, "the watch's request was aborted");
  });

  it("closes the watch when the consumer stops while watching", async () => {
    const src = new ScriptedListWatch().replyToList(page("5", [])).onWatch((w) => w.push(added(obj("a", "6"))));
    const gen = watcher(src, { streamingList: false });
    assert.deepEqual(await take(gen, 3), ["init-start initial", "init-done 5", "apply a@6"]);
    await gen.return(undefined);
    const w: ScriptedWatch | undefined = src.watches[0];
    assert.equal(w?.returned, true);
    assert.equal(w?.opts.signal?.aborted, true);
  });

  it("does not start when the signal has aborted already", async () => {
    const src = new ScriptedListWatch();
    const gen = watcher(src, { signal: AbortSignal.abort() });
    assert.deepEqual(await gen.next(), { done: true, value: undefined });
    assert.equal(src.lists.length + src.watches.length, 0);
  });
});
