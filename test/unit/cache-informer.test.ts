/**
 * The informer over a scripted in-memory ListWatch: sync, live events, the difference delivered on a relist, errors,
 * resync, late handlers, isolation of failing user code, and a clean stop.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { afterEach, describe, it } from "node:test";
import { type EventHandlers, Informer, type InformerOptions, InformerStoppedError } from "../../src/cache/informer.js";
import { stderrLogger } from "../../src/cache/log.js";
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
} from "../support/listwatch.js";
import { outcome, waitFor } from "../support/wait.js";

const at = (o: KubeObject): string => `${o.metadata.name}@${o.metadata.resourceVersion}`;

/** Handlers that write what they are told as short lines into `into`. */
function recorder(into: string[]): EventHandlers<KubeObject> {
  return {
    add: (o, { origin }) => void into.push(`add ${at(o)} ${origin}`),
    update: (old, o, { origin }) => void into.push(`update ${at(old)}->${at(o)} ${origin}`),
    delete: (o, { origin, finalStateUnknown }) =>
      void into.push(`delete ${at(o)} ${origin}${finalStateUnknown ? " final-state-unknown" : ""}`),
  };
}

const informers: Informer[] = [];

function informer(src: ScriptedListWatch, options: InformerOptions<KubeObject> = {}): Informer {
  const i = new Informer(src, {
    streamingList: false,
    minWatchTimeoutSeconds: 1,
    backoff: { initialMs: 5, maxMs: 40 },
    ...options,
  });
  informers.push(i);
  return i;
}

afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
});

const soon = () => AbortSignal.timeout(3000);

describe("Informer: sync", () => {
  it("syncs after the initial paginated list and tells handlers each object as an add with origin initial", async () => {
    const src = new ScriptedListWatch().replyToList(
      page("7", [obj("a", "3"), obj("b", "4")], "next"),
      page("7", [obj("c", "5", { namespace: "other" })]),
    );
    const inf = informer(src, { pageSize: 2 });
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    assert.equal(inf.hasSynced, false);
    inf.start();
    await inf.synced(soon());
    assert.equal(inf.hasSynced, true);
    assert.deepEqual(inf.store.keys().sort(), ["ns/a", "ns/b", "other/c"]);
    assert.equal(inf.store.get("ns/a")?.metadata.managedFields, undefined, "managedFields dropped by default");
    assert.deepEqual(inf.status(), {
      synced: true,
      objects: 3,
      bytes: inf.store.list().reduce((n, o) => n + JSON.stringify(o).length, 0),
      resourceVersion: "7",
      lastError: undefined,
      consecutiveErrors: 0,
      nextRetryAt: undefined,
      relists: 0,
      objectErrors: 0,
      handlerErrors: 0,
    });
    await inf.idle();
    assert.deepEqual(seen.sort(), ["add a@3 initial", "add b@4 initial", "add c@5 initial"]);
    assert.equal(src.lists[1]?.continue, "next");
  });

  it("syncs from a streaming list and applies the custom transform", async () => {
    const src = new ScriptedListWatch().onWatch((w) =>
      w.push(added(obj("a", "3", { data: { k: "v" } })), bookmark("9", true), modified(obj("a", "10"))),
    );
    const inf = informer(src, {
      streamingList: "auto",
      transform: (o) => ({ ...o, data: { transformed: "yes" } }),
    });
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    inf.start();
    await inf.synced(soon());
    await waitFor("the live update", () => seen.length === 2, { timeoutMs: 2000 });
    assert.deepEqual(seen, ["add a@3 initial", "update a@3->a@10 live"]);
    assert.deepEqual(inf.store.get("ns/a")?.data, { transformed: "yes" });
    assert.ok(inf.store.get("ns/a")?.metadata.managedFields, "a custom transform replaces the default one");
  });

  it("synced(signal) rejects when the signal aborts before the initial list, and resolves later once synced", async () => {
    let answer: (() => void) | undefined;
    const src = new ScriptedListWatch().replyToList(
      () =>
        new Promise((resolve) => {
          answer = () => resolve(page("5", [obj("a", "5")]));
        }),
    );
    const inf = informer(src);
    inf.start();
    await assert.rejects(inf.synced(AbortSignal.abort(new Error("gave up at once"))), /gave up at once/);
    // Not AbortSignal.timeout(): its timer is unref'd, and nothing else keeps this process alive meanwhile.
    const later30 = new AbortController();
    setTimeout(() => later30.abort(new Error("gave up after 30 ms")), 30);
    await assert.rejects(inf.synced(later30.signal), /gave up after 30 ms/);
    const later = inf.synced(soon());
    await waitFor("the list call", () => answer !== undefined, { timeoutMs: 2000 });
    answer?.();
    await later;
    await inf.synced(); // resolves at once now
  });

  it("synced() without a signal rejects once the informer stops unsynced, by stop() or by its start signal", async () => {
    // Every list fails: the informer never syncs.
    const src = new ScriptedListWatch();
    const inf = informer(src);
    const beforeStart = outcome(inf.synced());
    inf.start();
    const whileRunning = outcome(inf.synced());
    await waitFor("a failed list", () => src.lists.length > 0, { timeoutMs: 2000 });
    assert.equal(beforeStart(), undefined, "still waiting while the informer retries");
    await inf.stop();
    for (const settled of [beforeStart, whileRunning]) {
      const reason = await waitFor("synced() to give up", settled, { timeoutMs: 2000 });
      assert.ok(reason instanceof InformerStoppedError, String(reason));
      assert.equal(reason.message, "the informer of configmaps/v1 (scripted) stopped before it synced");
    }
    const afterStop = await waitFor("synced() on a stopped informer", outcome(inf.synced()), { timeoutMs: 2000 });
    assert.ok(afterStop instanceof InformerStoppedError);

    const controller = new AbortController();
    inf.start(controller.signal);
    const signalled = outcome(inf.synced());
    controller.abort();
    assert.ok((await waitFor("synced() to give up", signalled, { timeoutMs: 2000 })) instanceof InformerStoppedError);

    src.replyToList(page("5", [obj("a", "1")]));
    inf.start();
    await inf.synced(soon());
    await inf.stop();
    await inf.synced(); // synced, then stopped: nothing to wait for
  });
});

describe("Informer: waiters and listeners", () => {
  it("tells each informer's sync waiters and error listeners only of its own, before and after they come and go", async () => {
    const failing = new ScriptedListWatch().replyToList(apiError("ServiceUnavailable", 503));
    const listing = new ScriptedListWatch().replyToList(page("5", [obj("a", "1")]));
    const a = informer(failing, { logger: "none" });
    const b = informer(listing, { logger: "none" });
    const heardByB: string[] = [];
    const gone = b.onError(() => void heardByB.push("removed listener"));
    gone();
    const heardByA: string[] = [];
    a.onError((error) => void heardByA.push(error.kind));
    b.onError(() => void heardByB.push("B's listener"));
    const aSynced = outcome(a.synced());
    const first = outcome(b.synced());
    b.start();
    await waitFor("B synced", first, { timeoutMs: 2000 });
    a.start();
    await waitFor("A's list to fail", () => heardByA.length > 0, { timeoutMs: 2000 });
    assert.deepEqual(heardByB, [], "B heard neither A's failure nor anything through a removed listener");
    assert.equal(aSynced(), undefined, "B's sync did not release A's waiter");
    await a.stop();
    assert.ok((await waitFor("A's waiter", aSynced, { timeoutMs: 2000 })) instanceof InformerStoppedError);
    // Once every waiter and listener has gone, new ones still work.
    listing.replyToList(page("6", [obj("a", "2")]));
    await b.stop();
    b.start();
    await b.synced(soon());
  });
});

describe("Informer: changes", () => {
  it("delivers live adds, updates and deletes, and follows bookmarks", async () => {
    const src = new ScriptedListWatch()
      .replyToList(page("5", [obj("a", "1"), obj("b", "2")]))
      .onWatch((w) => w.push(added(obj("c", "6")), modified(obj("a", "7")), deleted(obj("b", "8")), bookmark("20")));
    const inf = informer(src);
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    inf.start();
    await waitFor("the bookmark", () => inf.status().resourceVersion === "20", { timeoutMs: 2000 });
    await inf.idle();
    assert.deepEqual(seen.slice(2), ["add c@6 live", "update a@1->a@7 live", "delete b@8 live"]);
    assert.deepEqual(inf.store.keys().sort(), ["ns/a", "ns/c"]);
  });

  it("tells a name whose uid changed while watching as a delete of the old object and an add of the new", async () => {
    const src = new ScriptedListWatch()
      .replyToList(page("5", [obj("a", "1", { uid: "u1" })]))
      .onWatch((w) => w.push(modified(obj("a", "9", { uid: "u2" }))));
    const inf = informer(src);
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    inf.start();
    await waitFor("the change", () => seen.length === 3, { timeoutMs: 2000 });
    assert.deepEqual(seen, ["add a@1 initial", "delete a@1 live final-state-unknown", "add a@9 live"]);
  });

  it("on a relist delivers exactly the missing deletes, the updates, the adds, and delete+add for a new uid", async () => {
    const src = new ScriptedListWatch()
      .replyToList(
        page("5", [
          obj("same", "1"),
          obj("changed", "1"),
          obj("gone", "1"),
          obj("recreated", "1", { uid: "old-uid" }),
          obj("seen-live", "1"),
        ]),
        page("30", [
          obj("same", "1"),
          obj("changed", "12"),
          obj("recreated", "14", { uid: "new-uid" }),
          obj("seen-live", "6"),
          obj("new", "15"),
        ]),
      )
      .onWatch((w) => w.push(modified(obj("seen-live", "6")), errorEvent(apiError("Gone", 410))));
    const inf = informer(src);
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    inf.start();
    await waitFor("the relist", () => inf.status().relists === 1, { timeoutMs: 2000 });
    await inf.idle();
    assert.deepEqual(seen.slice(5), [
      "update seen-live@1->seen-live@6 live",
      "delete gone@1 relist final-state-unknown",
      "update changed@1->changed@12 relist",
      "delete recreated@1 relist final-state-unknown",
      "add recreated@14 relist",
      "add new@15 relist",
    ]);
    assert.deepEqual(inf.store.keys().sort(), ["ns/changed", "ns/new", "ns/recreated", "ns/same", "ns/seen-live"]);
    assert.equal(inf.store.get("ns/recreated")?.metadata.uid, "new-uid");
    assert.equal(inf.status().resourceVersion, "30");
  });

  it("keeps the old store until a relist is complete, and drops what a failed relist had collected", async () => {
    const src = new ScriptedListWatch()
      .replyToList(
        page("5", [obj("a", "1"), obj("b", "1")]),
        page("9", [obj("a", "9")], "more"),
        apiError("Gone", 410, "continue token expired"),
        page("10", [obj("b", "10")]),
      )
      .onWatch((w) => w.push(errorEvent(apiError("Gone", 410))));
    const inf = informer(src);
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    inf.start();
    await waitFor("the relist", () => inf.status().relists === 1, { timeoutMs: 2000 });
    await inf.idle();
    assert.deepEqual(seen.slice(2), ["delete a@1 relist final-state-unknown", "update b@1->b@10 relist"]);
  });
});

describe("Informer: errors", () => {
  it("reports errors to onError with growing backoff, counts them, and clears them once healthy", async () => {
    const src = new ScriptedListWatch()
      .replyToList(apiError("ServiceUnavailable", 503), apiError("ServiceUnavailable", 503), page("5", []))
      .onWatch(
        (w) => w.fail(apiError("Network", 0, "reset")),
        (w) => w.push(added(obj("a", "6"))),
      );
    const logged: string[] = [];
    const inf = informer(src, {
      backoff: { initialMs: 8, maxMs: 64, random: () => 0 },
      logger: (level, message, fields) => void logged.push(`${level} ${message} ${fields?.kind ?? ""}`),
    });
    const errors: string[] = [];
    inf.onError((error, retryInMs) => void errors.push(`${error.kind} ${retryInMs}`));
    const statuses: number[] = [];
    inf.onError(() => void statuses.push(inf.status().consecutiveErrors));
    inf.start();
    await waitFor("the add", () => inf.store.get("ns/a"), { timeoutMs: 2000 });
    assert.deepEqual(errors, ["ServiceUnavailable 4", "ServiceUnavailable 8", "Network 16"]);
    assert.deepEqual(statuses, [1, 2, 1], "the list that worked in between reset the count");
    assert.deepEqual(
      [inf.status().consecutiveErrors, inf.status().lastError, inf.status().nextRetryAt],
      [0, undefined, undefined],
    );
    assert.deepEqual(logged, [
      "warn watch failed; retrying ServiceUnavailable",
      "warn watch failed; retrying ServiceUnavailable",
      "warn watch failed; retrying Network",
    ]);
  });

  it("status says what fails, how often in a row and when it is retried, and clears once a watch is accepted, event or not", async () => {
    const src = new ScriptedListWatch().replyToList(page("5", [obj("a", "1")])).onWatch(
      (w) => w.fail(apiError("Network", 0, "refused")),
      (w) => w.fail(apiError("ServiceUnavailable", 503, "starting")),
    );
    const inf = informer(src, { backoff: { initialMs: 40, maxMs: 400, random: () => 0 }, logger: "none" });
    const seen: {
      kind: string | undefined;
      consecutiveErrors: number;
      dueInMs: number | undefined;
      retryInMs: number;
    }[] = [];
    inf.onError((_error, retryInMs) => {
      const s = inf.status();
      const dueInMs = s.nextRetryAt === undefined ? undefined : s.nextRetryAt - Date.now();
      seen.push({ kind: s.lastError?.kind, consecutiveErrors: s.consecutiveErrors, dueInMs, retryInMs });
    });
    inf.start();
    // The third watch is accepted and stays silent: nothing but its opening says the informer is healthy again.
    await waitFor("the third watch", () => src.watches.length === 3, { timeoutMs: 2000 });
    assert.deepEqual(
      seen.map((e) => [e.kind, e.consecutiveErrors, e.retryInMs]),
      [
        ["Network", 1, 20],
        ["ServiceUnavailable", 2, 40],
      ],
    );
    for (const e of seen)
      assert.ok(e.dueInMs !== undefined && e.dueInMs <= e.retryInMs && e.dueInMs > e.retryInMs - 15);
    await waitFor("healthy", () => inf.status().consecutiveErrors === 0, { timeoutMs: 2000 });
    assert.equal(inf.status().lastError, undefined);
    assert.equal(inf.status().nextRetryAt, undefined);
  });

  it("isolates a throwing handler: it is reported, and other handlers are told everything", async () => {
    const src = new ScriptedListWatch()
      .replyToList(page("5", [obj("a", "1")]))
      .onWatch((w) => w.push(added(obj("b", "2"))));
    const logged: { level: string; message: string; fields: Record<string, unknown> | undefined }[] = [];
    const inf = informer(src, { logger: (level, message, fields) => void logged.push({ level, message, fields }) });
    const good: string[] = [];
    const bad: string[] = [];
    inf.addHandlers({
      add: async (o) => {
        bad.push(at(o));
        throw new Error(`cannot handle ${o.metadata.name}`);
      },
    });
    inf.addHandlers(recorder(good));
    inf.start();
    await waitFor("both adds", () => good.length === 2, { timeoutMs: 2000 });
    await inf.idle();
    assert.deepEqual(good, ["add a@1 initial", "add b@2 live"]);
    assert.deepEqual(bad, ["a@1", "b@2"], "the failing handler still gets the next notification");
    const failures = logged.filter((l) => l.message === "informer handler failed");
    assert.deepEqual(
      failures.map((l) => [l.level, l.fields?.key, l.fields?.event, l.fields?.error]),
      [
        ["error", "ns/a", "add", "cannot handle a"],
        ["error", "ns/b", "add", "cannot handle b"],
      ],
    );
  });

  /** Runs `body` with what is written to stderr kept in `written` instead of shown. */
  async function capturingStderr(body: (written: string[]) => Promise<void>): Promise<void> {
    const write = process.stderr.write;
    const written: string[] = [];
    process.stderr.write = ((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    try {
      await body(written);
    } finally {
      process.stderr.write = write;
    }
  }

  /** A source that fails its first list, then lists `a` and watches the add of `b`. */
  const failsOnce = () =>
    new ScriptedListWatch()
      .replyToList(apiError("ServiceUnavailable", 503, "try later"), page("5", [obj("a", "1")]))
      .onWatch((w) => w.push(added(obj("b", "2"))));

  /** Handlers that fail on every add: one rejects, one throws. */
  function failing(inf: Informer): void {
    inf.addHandlers({
      add: async (o) => {
        throw new Error(`cannot handle ${o.metadata.name}`);
      },
    });
    inf.addHandlers({
      add: (o) => {
        throw new TypeError(`bad ${o.metadata.name}`);
      },
    });
  }

  it("without a logger, logs a throwing handler on stderr with its stack, and retries, and counts the failures", async () => {
    await capturingStderr(async (written) => {
      const inf = informer(failsOnce());
      failing(inf);
      inf.start();
      await waitFor("four failed handler calls", () => inf.status().handlerErrors === 4, { timeoutMs: 2000 });
      const failures = written.filter((w) => w.includes("informer handler failed"));
      assert.equal(failures.length, 4, written.join(""));
      const [line = "", ...stack] = (failures.find((w) => w.includes('"key":"ns/a"') && w.includes("TypeError")) ?? "")
        .trimEnd()
        .split("\n");
      assert.match(
        line,
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z kindwatch error informer handler failed \{"source":"configmaps\/v1 \(scripted\)","event":"add","key":"ns\/a","error":"bad a"\}$/,
      );
      assert.equal(stack[0], "TypeError: bad a", "the stack follows the line");
      assert.match(stack[1] ?? "", /^ {4}at /);
      const retry = written.find((w) => w.includes("watch failed; retrying")) ?? "";
      assert.match(retry, / kindwatch warn watch failed; retrying \{.*"error":"try later"/, "warnings too");
      assert.equal(inf.status().objectErrors, 0);
    });
  });

  it('with logger "none", writes nothing, and still counts the failures', async () => {
    await capturingStderr(async (written) => {
      const inf = informer(failsOnce(), { logger: "none" });
      failing(inf);
      inf.start();
      await waitFor("four failed handler calls", () => inf.status().handlerErrors === 4, { timeoutMs: 2000 });
      await inf.stop();
      assert.deepEqual(written, []);
    });
  });

  it("the stderr logger: one line of JSON fields a message, the stack after it, warnings and errors by default", () => {
    const lines: string[] = [];
    const stream = { write: (text: string) => lines.push(text) };
    const log = stderrLogger({ stream });
    log("info", "not shown");
    log("warn", "plain");
    log("error", "failed", { key: "ns/a", n: 2, stack: "Error: x\n    at here" });
    stderrLogger({ stream, level: "info" })("info", "shown");
    assert.deepEqual(
      lines.map((l) => l.replace(/^\S+ /, "")),
      [
        "kindwatch warn plain\n",
        'kindwatch error failed {"key":"ns/a","n":2}\nError: x\n    at here\n',
        "kindwatch info shown\n",
      ],
    );
  });

  it("goes on when a transform, an index function, an error listener or the logger throws", async () => {
    const src = new ScriptedListWatch()
      .replyToList(apiError("InternalError", 500), page("5", [obj("a", "1"), obj("unindexable", "1")]))
      .onWatch((w) => w.push(added(obj("bad", "2")), added(obj("c", "3"))));
    const inf = informer(src, {
      transform: (o) => {
        if (o.metadata.name === "bad") throw new Error("transform broke");
        return o;
      },
      indexers: {
        picky: (o) => {
          if (o.metadata.name === "unindexable") throw new Error("index broke");
          return [];
        },
      },
      logger: () => {
        throw new Error("logger broke");
      },
    });
    inf.onError(() => {
      throw new Error("listener broke");
    });
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    inf.start();
    await inf.synced(soon());
    await waitFor("the add after the bad one", () => inf.store.get("ns/c"), { timeoutMs: 2000 });
    await inf.idle();
    assert.deepEqual(seen, ["add a@1 initial", "add c@3 live"]);
    assert.deepEqual(inf.store.keys().sort(), ["ns/a", "ns/c"]);
    assert.equal(inf.status().objectErrors, 2);
  });

  /** A transform that cannot handle `b` past its first version, and a logger that keeps the errors. */
  function pickyAboutB(logged: string[]): InformerOptions<KubeObject> {
    return {
      transform: (o) => {
        if (o.metadata.name === "b" && o.metadata.resourceVersion !== "1") throw new Error(`cannot transform ${at(o)}`);
        return o;
      },
      logger: (level, message, fields) => {
        if (level === "error") logged.push(`${message}: ${fields?.key}: ${fields?.error}`);
      },
    };
  }

  it("on a relist keeps the stored version of an object the transform throws on: neither deleted nor told", async () => {
    const src = new ScriptedListWatch()
      .replyToList(page("5", [obj("a", "1"), obj("b", "1")]), page("9", [obj("a", "2"), obj("b", "2")]))
      .onWatch((w) => w.push(errorEvent(apiError("Gone", 410))));
    const logged: string[] = [];
    const inf = informer(src, pickyAboutB(logged));
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    inf.start();
    await waitFor("the relist", () => inf.status().relists === 1, { timeoutMs: 2000 });
    await inf.idle();
    assert.deepEqual(seen.slice(2), ["update a@1->a@2 relist"]);
    assert.equal(inf.store.get("ns/b")?.metadata.resourceVersion, "1");
    assert.equal(inf.status().objectErrors, 1);
    assert.deepEqual(logged, ["informer could not transform an object: ns/b: cannot transform b@2"]);
  });

  it("live, keeps the stored version when the transform throws on an update, and still removes a deleted object", async () => {
    const src = new ScriptedListWatch()
      .replyToList(page("5", [obj("a", "1"), obj("b", "1")]))
      .onWatch((w) => w.push(modified(obj("b", "2")), modified(obj("a", "3")), deleted(obj("b", "4")), bookmark("20")));
    const logged: string[] = [];
    const inf = informer(src, pickyAboutB(logged));
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    inf.start();
    await waitFor("the bookmark", () => inf.status().resourceVersion === "20", { timeoutMs: 2000 });
    await inf.idle();
    assert.deepEqual(seen.slice(2), ["update a@1->a@3 live", "delete b@1 live final-state-unknown"]);
    assert.deepEqual(inf.store.keys(), ["ns/a"]);
    assert.equal(inf.status().objectErrors, 2);
    assert.deepEqual(logged, [
      "informer could not transform an object: ns/b: cannot transform b@2",
      "informer could not transform an object: ns/b: cannot transform b@4",
    ]);
  });
});

describe("Informer: handlers and resync", () => {
  it("tells handlers added after sync every stored object as an add with origin initial, then what changes", async () => {
    const src = new ScriptedListWatch().replyToList(page("5", [obj("a", "1"), obj("b", "2")]));
    const inf = informer(src);
    inf.start();
    await inf.synced(soon());
    const late: string[] = [];
    const remove = inf.addHandlers(recorder(late));
    await inf.idle();
    assert.deepEqual(late.sort(), ["add a@1 initial", "add b@2 initial"]);
    await waitFor("the watch", () => src.watches.length === 1, { timeoutMs: 2000 });
    src.watches[0]?.push(modified(obj("a", "3")));
    await waitFor("the update", () => late.length === 3, { timeoutMs: 2000 });
    assert.equal(late[2], "update a@1->a@3 live");
    remove();
    src.watches[0]?.push(modified(obj("a", "4")));
    await waitFor("the store", () => inf.store.get("ns/a")?.metadata.resourceVersion === "4", { timeoutMs: 2000 });
    await inf.idle();
    assert.equal(late.length, 3, "a removed handler is told nothing more");
  });

  it("resyncs: every stored object again as an update with origin resync", async () => {
    const src = new ScriptedListWatch().replyToList(page("5", [obj("a", "1"), obj("b", "2")]));
    const inf = informer(src, { resyncMs: 20 });
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    inf.start();
    await waitFor("two resyncs", () => seen.filter((s) => s.endsWith("resync")).length >= 4, { timeoutMs: 3000 });
    const resyncs = seen.filter((s) => s.endsWith("resync"));
    assert.ok(resyncs.every((s) => s === "update a@1->a@1 resync" || s === "update b@2->b@2 resync"));
    await inf.stop();
    // Handlers are paused after stop(), so watch the timer itself: a resync reads the whole store.
    let reads = 0;
    const list = inf.store.list.bind(inf.store);
    inf.store.list = () => {
      reads++;
      return list();
    };
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(reads, 0, "no resync ran after stop()");
  });
});

describe("Informer: stopping", () => {
  it("stop() resolves promptly and closes the open watch", async () => {
    const src = new ScriptedListWatch().replyToList(page("5", [obj("a", "1")]));
    const inf = informer(src);
    inf.start();
    await inf.synced(soon());
    await waitFor("the watch", () => src.watches.length === 1, { timeoutMs: 2000 });
    const started = Date.now();
    await inf.stop();
    assert.ok(Date.now() - started < 500);
    assert.equal(src.watches[0]?.returned, true);
    await inf.stop(); // twice is fine
  });

  it("stops when the start signal aborts, and does not run at all with a signal aborted already", async () => {
    const src = new ScriptedListWatch().replyToList(page("5", []));
    const controller = new AbortController();
    const inf = informer(src);
    inf.start(controller.signal);
    await inf.synced(soon());
    await waitFor("the watch", () => src.watches.length === 1, { timeoutMs: 2000 });
    controller.abort();
    await waitFor("the watch closed", () => src.watches[0]?.returned, { timeoutMs: 2000 });

    const idle = new ScriptedListWatch();
    const never = informer(idle);
    never.start(AbortSignal.abort());
    await never.stop();
    assert.equal(idle.lists.length + idle.watches.length, 0);
  });

  it("starts again after stop(): unsynced until the new list is in, handlers told the difference, then live", async () => {
    const src = new ScriptedListWatch().replyToList(
      page("5", [obj("a", "1"), obj("b", "1"), obj("c", "1")]),
      page("9", [obj("a", "1"), obj("b", "7"), obj("d", "8")]),
    );
    const inf = informer(src);
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    inf.start();
    await inf.synced(soon());
    await inf.stop();
    inf.start();
    assert.equal(inf.hasSynced, false, "a restarted informer is synced once its new list is stored");
    await inf.synced(soon());
    await waitFor("the second watch", () => src.watches.length === 2, { timeoutMs: 2000 });
    src.watches[1]?.push(modified(obj("a", "10")));
    await waitFor("the live update", () => inf.store.get("ns/a")?.metadata.resourceVersion === "10", {
      timeoutMs: 2000,
    });
    await inf.idle();
    assert.deepEqual(seen.slice(3), [
      "delete c@1 relist final-state-unknown",
      "update b@1->b@7 relist",
      "add d@8 relist",
      "update a@1->a@10 live",
    ]);
    assert.equal(inf.status().relists, 1);
  });

  it('reads a restart\'s first list consistently, not at resourceVersion "0", which may be older than the store', async () => {
    const src = new ScriptedListWatch().replyToList(page("5", [obj("a", "1")]), page("9", [obj("a", "2")]));
    const inf = informer(src, { initialListResourceVersion: "0" });
    inf.start();
    await inf.synced(soon());
    await inf.stop();
    inf.start();
    await inf.synced(soon());
    assert.deepEqual(
      src.lists.map((l) => l.resourceVersion),
      ["0", undefined],
    );
  });

  it("starts again after its start signal aborted, at once, in the same way as after stop()", async () => {
    const src = new ScriptedListWatch().replyToList(
      page("5", [obj("a", "1"), obj("b", "1")]),
      page("9", [obj("a", "2")]),
    );
    const inf = informer(src);
    const seen: string[] = [];
    inf.addHandlers(recorder(seen));
    const first = new AbortController();
    inf.start(first.signal);
    await inf.synced(soon());
    await waitFor("the watch", () => src.watches.length === 1, { timeoutMs: 2000 });
    first.abort();
    // No stop() in between, and the aborted run has not wound down yet: the new run starts once it has.
    inf.start();
    assert.equal(inf.hasSynced, false);
    await inf.synced(soon());
    await inf.idle();
    assert.equal(src.watches[0]?.returned, true, "the first run's watch closed");
    assert.deepEqual(seen.slice(2), ["delete b@1 relist final-state-unknown", "update a@1->a@2 relist"]);
    assert.deepEqual(inf.store.keys(), ["ns/a"]);
  });

  it("keeps what handlers were not told yet across a restart, and tells handlers added while stopped the store", async () => {
    const src = new ScriptedListWatch().replyToList(
      page("5", [obj("a", "1")]),
      page("9", [obj("a", "3"), obj("b", "9")]),
    );
    const inf = informer(src);
    let release = () => {};
    const blocked = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: string[] = [];
    let inFlight = 0;
    let most = 0;
    const record = recorder(slow);
    inf.addHandlers({
      ...record,
      add: async (o, info) => {
        inFlight++;
        most = Math.max(most, inFlight);
        record.add?.(o, info);
        if (o.metadata.resourceVersion === "1") await blocked;
        inFlight--;
      },
    });
    inf.start();
    await inf.synced(soon());
    await waitFor("the watch", () => src.watches.length === 1, { timeoutMs: 2000 });
    src.watches[0]?.push(modified(obj("a", "2")));
    await waitFor("the update stored", () => inf.store.get("ns/a")?.metadata.resourceVersion === "2", {
      timeoutMs: 2000,
    });
    await inf.stop();
    const late: string[] = [];
    inf.addHandlers(recorder(late));
    assert.deepEqual(late, [], "a stopped informer tells nothing (a running one tells a late handler at once)");
    inf.start();
    await inf.synced(soon());
    release();
    await inf.idle();
    assert.deepEqual(slow, ["add a@1 initial", "update a@1->a@3 relist", "add b@9 relist"]);
    assert.equal(most, 1, "the handler was never called again before its first call returned");
    assert.deepEqual(late, ["add a@2 initial", "update a@2->a@3 relist", "add b@9 relist"]);
  });

  it("leaves nothing behind: a process that stops its informers exits at once", async () => {
    const dist = (path: string) => new URL(path, import.meta.url).href;
    const script = `
      const { Informer } = await import(${JSON.stringify(dist("../../src/cache/informer.js"))});
      const { ScriptedListWatch, page, obj, apiError } = await import(${JSON.stringify(dist("../support/listwatch.js"))});
      const synced = new ScriptedListWatch().replyToList(page("5", [obj("a", "1")]));
      const a = new Informer(synced, { streamingList: false, resyncMs: 10 });
      a.addHandlers({ add() {}, update() {} });
      a.start();
      await a.synced(AbortSignal.timeout(5000));
      const failing = new ScriptedListWatch();
      const b = new Informer(failing, { streamingList: false, backoff: { initialMs: 60000 } });
      let failed = false;
      b.onError(() => { failed = true; });
      b.start();
      while (!failed) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 30));
      await Promise.all([a.stop(), b.stop()]);
      console.log("stopped", Date.now());
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    const deadline = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    const exited = Date.now();
    clearTimeout(deadline);
    assert.equal(code, 0, `the child did not exit cleanly: ${err}`);
    const stopped = Number(/stopped (\d+)/.exec(out)?.[1]);
    assert.ok(exited - stopped < 1000, `the process lived ${exited - stopped} ms after stop()`);
  });
});
