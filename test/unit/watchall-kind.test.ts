/**
 * One kind's loop, in memory, on scripted sources: what it tells the stream, and that whatever it abandons (a start
 * overtaken by a removal or another version, a move overtaken by another) stops its requests and gives its listing
 * slot back. Every list and watch call's signal is checked: aborted means nothing of it is left running.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { BackoffOptions } from "../../src/cache/backoff.js";
import { Informer } from "../../src/cache/informer.js";
import type { ApiResource } from "../../src/discovery/types.js";
import type { KubeObject } from "../../src/object/types.js";
import { type KindHost, KindWatch } from "../../src/watchall/kind.js";
import { Slots } from "../../src/watchall/slots.js";
import type { ObjectEvent, WatchAllEvent } from "../../src/watchall/types.js";
import { apiError, obj, page, ScriptedListWatch } from "../support/listwatch.js";
import { waitFor } from "../support/wait.js";

function res(version: string): ApiResource {
  return {
    group: "example.com",
    version,
    resource: "gizmos",
    kind: "Gizmo",
    singular: "gizmo",
    namespaced: true,
    verbs: ["list", "watch"],
    shortNames: [],
    categories: [],
    subresources: [],
    preferred: true,
  };
}

/** A list that never answers (until its signal aborts). */
const hangs = () => new Promise<never>(() => {});

/** A host whose informers list scripted sources, one per version, and which records what is emitted. */
class Host implements KindHost {
  readonly slots: Slots;
  readonly events: WatchAllEvent[] = [];
  readonly sources = new Map<string, ScriptedListWatch>();
  readonly dropNoise = true;
  /** The backoff of access reviews and informers. */
  backoff: BackoffOptions = { initialMs: 5, maxMs: 20 };
  deny: string | undefined;
  reviews = 0;
  /** The informers' transform; default theirs. */
  transform: ((o: KubeObject) => KubeObject) | undefined;

  constructor(slots = new Slots(1)) {
    this.slots = slots;
  }

  source(version: string): ScriptedListWatch {
    let src = this.sources.get(version);
    if (!src) {
      src = new ScriptedListWatch();
      this.sources.set(version, src);
    }
    return src;
  }

  emit(event: WatchAllEvent, silent = false): Promise<void> {
    if (!silent) this.events.push(event);
    return Promise.resolve();
  }

  informer(r: ApiResource): Informer<KubeObject> {
    return new Informer(this.source(r.version), {
      streamingList: false,
      backoff: this.backoff,
      logger: "none",
      ...(this.transform ? { transform: this.transform } : {}),
    });
  }

  denied(): Promise<string | undefined> {
    this.reviews++;
    return Promise.resolve(this.deny);
  }

  log(): void {}

  ended(): void {}

  /** Short forms of what was emitted. */
  shown(): string[] {
    return this.events.map((e) =>
      "name" in e
        ? `${e.type} ${(e as ObjectEvent).name}@${e.version} ${(e as ObjectEvent).origin}`
        : `${e.type} ${e.version}`,
    );
  }

  /** Whether every list and watch ever called has its signal aborted: nothing left running. */
  allStopped(): boolean {
    return [...this.sources.values()].every(
      (s) =>
        s.lists.every((l) => l.signal?.aborted === true) && s.watches.every((w) => w.opts.signal?.aborted === true),
    );
  }
}

const gr = "gizmos.example.com";

/** Where an object was told a resourceVersion older than one it had been told: `a: 3 after 6`. */
function backwards(events: readonly WatchAllEvent[]): string[] {
  const last = new Map<string, number>();
  const out: string[] = [];
  for (const e of events) {
    if (!("name" in e)) continue;
    const rv = Number((e as ObjectEvent).resourceVersion);
    const before = last.get(e.name) ?? 0;
    if (rv < before) out.push(`${e.name}: ${rv} after ${before}`);
    last.set(e.name, Math.max(rv, before));
  }
  return out;
}
const soon = (what: string, check: () => boolean) => waitFor(what, check, { timeoutMs: 3000, intervalMs: 5 });

describe("KindWatch", () => {
  it("lists, then delivers the objects, KIND_SYNCED, and live changes", async () => {
    const host = new Host();
    host.source("v1").replyToList(page("5", [obj("a", "3"), obj("b", "4")]));
    const kind = new KindWatch(gr, res("v1"), host);
    await soon("synced", () => host.shown().includes("KIND_SYNCED v1"));
    host.source("v1").lastWatch?.push({ type: "MODIFIED", object: obj("a", "6", { data: { x: "1" } }) });
    await soon("the update", () => host.events.length === 5);
    assert.deepEqual(host.shown(), [
      "KIND_ADDED v1",
      "ADDED a@v1 initial",
      "ADDED b@v1 initial",
      "KIND_SYNCED v1",
      "MODIFIED a@v1 live",
    ]);
    assert.deepEqual((host.events[4] as ObjectEvent).changedPaths, ["data", "metadata.resourceVersion"]);
    assert.equal(kind.status().state, "synced");
    assert.equal(kind.status().objects, 2);
    kind.halt();
    await kind.done;
    assert.ok(host.allStopped());
  });

  it("counts the objects its informers could not transform, across a version move: a counter never goes back", async () => {
    const host = new Host();
    host.transform = (o) => {
      if (o.metadata.name === "bad") throw new Error("cannot transform");
      return o;
    };
    host.source("v1").replyToList(page("5", [obj("a", "3"), obj("bad", "4")]));
    host.source("v2").replyToList(page("6", [obj("a", "3"), obj("bad", "4")]));
    const kind = new KindWatch(gr, res("v1"), host);
    try {
      await soon("synced at v1", () => host.shown().includes("KIND_SYNCED v1"));
      assert.deepEqual([kind.status().objectErrors, kind.status().handlerErrors], [1, 0]);
      kind.want(res("v2"));
      await soon("moved", () => host.shown().includes("KIND_VERSION_CHANGED v2"));
      assert.equal(kind.status().objectErrors, 2, "the v1 informer's failure is still counted once it is gone");
    } finally {
      kind.halt();
      await kind.done;
    }
  });

  it("a synced kind whose watch fails says why, how often and when it retries, until a watch is accepted again", async () => {
    const host = new Host();
    host.backoff = { initialMs: 1000, maxMs: 1000, random: () => 0 };
    host.source("v1").replyToList(page("5", [obj("a", "3")]));
    host.source("v1").onWatch((w) => w.fail(apiError("Network", 0, "connection refused")));
    const kind = new KindWatch(gr, res("v1"), host);
    try {
      await soon("failing", () => kind.status().consecutiveErrors === 1);
      const failing = kind.status();
      assert.equal(failing.state, "synced");
      assert.equal(failing.reason, "connection refused");
      assert.equal(failing.lastError?.kind, "Network");
      const dueInMs = (failing.nextRetryAt ?? 0) - Date.now();
      assert.ok(dueInMs > 0 && dueInMs <= 500, `retried in at most 500 ms (${dueInMs})`);
      // The next watch is accepted and stays silent.
      await soon("the next watch", () => host.source("v1").watches.length === 2);
      const healthy = kind.status();
      assert.deepEqual(
        [healthy.consecutiveErrors, healthy.lastError, healthy.nextRetryAt, healthy.reason],
        [0, undefined, undefined, undefined],
      );
    } finally {
      kind.halt();
      await kind.done;
    }
  });

  it("removed while still listing: stops the list, gives its slot back, tells KIND_REMOVED only", async () => {
    const host = new Host();
    host.source("v1").replyToList(hangs);
    const kind = new KindWatch(gr, res("v1"), host);
    await soon("the list call", () => host.source("v1").lists.length === 1);
    kind.remove("gone");
    await kind.done;
    assert.deepEqual(host.shown(), ["KIND_ADDED v1", "KIND_REMOVED v1"]);
    assert.equal((host.events[1] as { reason?: string }).reason, "gone");
    assert.ok(host.allStopped(), "the list was abandoned");
    assert.ok(await host.slots.acquire(AbortSignal.timeout(100)), "the slot is free again");
  });

  it("a removal or a new version that comes while a start fails is acted on, not lost", async () => {
    for (const change of ["remove", "want v2"] as const) {
      const host = new Host();
      host.source("v2").replyToList(page("5", [obj("a", "3")]));
      let kind: KindWatch | undefined;
      const informer = host.informer.bind(host);
      host.informer = (r) => {
        if (r.version !== "v1") return informer(r);
        // The change arrives during the step, which then fails on its own account.
        if (change === "remove") kind?.remove("gone");
        else kind?.want(res("v2"));
        throw new Error("cannot address v1");
      };
      kind = new KindWatch(gr, res("v1"), host);
      if (change === "remove") {
        await kind.done;
        assert.deepEqual(host.shown(), ["KIND_ADDED v1", "KIND_QUARANTINED v1", "KIND_REMOVED v1"]);
      } else {
        await soon("synced at v2", () => host.shown().includes("KIND_SYNCED v2"));
        assert.deepEqual(host.shown(), [
          "KIND_ADDED v1",
          "KIND_QUARANTINED v1",
          "ADDED a@v2 initial",
          "KIND_SYNCED v2",
        ]);
        kind.halt();
        await kind.done;
      }
    }
  });

  it("a new version while still listing: abandons the old list and starts at the new version", async () => {
    const host = new Host();
    host.source("v1").replyToList(hangs);
    host.source("v2").replyToList(page("5", [obj("a", "3")]));
    const kind = new KindWatch(gr, res("v1"), host);
    await soon("the v1 list", () => host.source("v1").lists.length === 1);
    kind.want(res("v2"));
    await soon("synced at v2", () => host.shown().includes("KIND_SYNCED v2"));
    assert.deepEqual(host.shown(), ["KIND_ADDED v1", "ADDED a@v2 initial", "KIND_SYNCED v2"]);
    assert.ok(host.source("v1").lists.every((l) => l.signal?.aborted));
    kind.halt();
    await kind.done;
    assert.ok(host.allStopped());
  });

  it("moves to a new version without replaying, and a move overtaken by another version leaves nothing running", async () => {
    const host = new Host();
    host.source("v1").replyToList(page("5", [obj("a", "3"), obj("b", "4"), obj("c", "5")]));
    host.source("v2").replyToList(hangs);
    // At v3: a changed, b unchanged, c deleted and d new meanwhile.
    host.source("v3").replyToList(page("9", [obj("a", "7", { data: { x: "1" } }), obj("b", "4"), obj("d", "8")]));
    const kind = new KindWatch(gr, res("v1"), host);
    await soon("synced at v1", () => host.shown().includes("KIND_SYNCED v1"));
    kind.want(res("v2"));
    await soon("the v2 list", () => host.source("v2").lists.length === 1);
    kind.want(res("v3"));
    await soon("moved", () => host.shown().some((s) => s.startsWith("KIND_VERSION_CHANGED")));
    await soon("the differences", () => host.events.length === 9);
    assert.deepEqual(host.shown().slice(5), [
      "KIND_VERSION_CHANGED v3",
      "MODIFIED a@v3 relist",
      "ADDED d@v3 relist",
      "DELETED c@v3 relist",
    ]);
    assert.equal((host.events[5] as { previousVersion?: string }).previousVersion, "v1");
    assert.equal(host.source("v3").lists.length, 1, "a list newer than the old watch is compared at once");
    assert.deepEqual((host.events[6] as ObjectEvent).changedPaths, ["data", "metadata.resourceVersion"]);
    assert.ok(
      host.source("v2").lists.every((l) => l.signal?.aborted),
      "the abandoned move stopped listing",
    );
    assert.ok(
      host.source("v1").watches.every((w) => w.opts.signal?.aborted),
      "the old version is no longer watched",
    );

    kind.remove("gone");
    await kind.done;
    assert.deepEqual(host.shown().slice(9), [
      "DELETED a@v3 live",
      "DELETED b@v3 live",
      "DELETED d@v3 live",
      "KIND_REMOVED v3",
    ]);
    assert.ok(host.allStopped());
    assert.ok(await host.slots.acquire(AbortSignal.timeout(100)), "no slot held");
  });

  it("a move under churn tells nothing twice and undoes nothing: the new version's list may be older than the old watch", async () => {
    const host = new Host();
    host.source("v1").replyToList(page("5", [obj("a", "3"), obj("b", "4"), obj("c", "5")]));
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The v2 list was read before the changes below; its watch has not brought them yet when the move happens.
    host
      .source("v2")
      .replyToList(
        () => released.then(() => page("5", [obj("a", "3"), obj("b", "4"), obj("c", "5")])),
        page("8", [obj("a", "6", { data: { x: "1" } }), obj("b", "4"), obj("d", "8")]),
      );
    const kind = new KindWatch(gr, res("v1"), host);
    await soon("synced at v1", () => host.shown().includes("KIND_SYNCED v1"));
    kind.want(res("v2"));
    await soon("the v2 list", () => host.source("v2").lists.length === 1);
    host
      .source("v1")
      .lastWatch?.push(
        { type: "MODIFIED", object: obj("a", "6", { data: { x: "1" } }) },
        { type: "DELETED", object: obj("c", "7") },
        { type: "ADDED", object: obj("d", "8") },
      );
    await soon("the old version's changes", () => host.shown().includes("ADDED d@v1 live"));
    release();
    await soon("moved", () => host.shown().includes("KIND_VERSION_CHANGED v2"));
    host.source("v2").lastWatch?.push({ type: "MODIFIED", object: obj("a", "9", { data: { x: "2" } }) });
    await soon("a live change at v2", () => host.shown().includes("MODIFIED a@v2 live"));
    assert.deepEqual(backwards(host.events), [], "no object told an older state than it was told before");
    assert.deepEqual(host.shown(), [
      "KIND_ADDED v1",
      "ADDED a@v1 initial",
      "ADDED b@v1 initial",
      "ADDED c@v1 initial",
      "KIND_SYNCED v1",
      "MODIFIED a@v1 live",
      "DELETED c@v1 live",
      "ADDED d@v1 live",
      "KIND_VERSION_CHANGED v2",
      "MODIFIED a@v2 live",
    ]);
    assert.equal(host.source("v2").lists.length, 2, "listed again once the old version had stopped");
    kind.halt();
    await kind.done;
    assert.ok(host.allStopped());
  });

  it("removed while a move lists its version afresh: deletes what the old version told, in that version", async () => {
    const host = new Host();
    host.source("v1").replyToList(page("5", [obj("a", "3")]));
    // Older than the old watch, so the move lists again; that list never answers.
    host.source("v2").replyToList(page("4", [obj("a", "3")]), hangs);
    const kind = new KindWatch(gr, res("v1"), host);
    await soon("synced at v1", () => host.shown().includes("KIND_SYNCED v1"));
    host.source("v1").lastWatch?.push({ type: "ADDED", object: obj("b", "6") });
    await soon("b", () => host.shown().includes("ADDED b@v1 live"));
    kind.want(res("v2"));
    await soon("the second v2 list", () => host.source("v2").lists.length === 2);
    kind.remove("gone");
    await kind.done;
    assert.deepEqual(host.shown().slice(4), ["DELETED a@v1 live", "DELETED b@v1 live", "KIND_REMOVED v1"]);
    assert.ok((host.events[4] as ObjectEvent).finalStateUnknown);
    assert.ok(host.allStopped());
    assert.ok(await host.slots.acquire(AbortSignal.timeout(100)), "no slot held");
  });

  it("quarantines a kind whose list fails and frees its slot for others; it syncs once the list works", async () => {
    const host = new Host();
    const broken = new Host(host.slots);
    broken.source("v1").replyToList(apiError("InternalError", 500, "conversion webhook failed"), hangs);
    host.source("v1").replyToList(page("5", [obj("a", "3")]));
    const first = new KindWatch("broken.example.com", res("v1"), broken);
    await soon("quarantined", () => broken.shown().includes("KIND_QUARANTINED v1"));
    const second = new KindWatch(gr, res("v1"), host);
    await soon("the other kind synced with the only slot", () => host.shown().includes("KIND_SYNCED v1"));
    assert.match(first.status().reason ?? "", /InternalError: conversion webhook failed/);
    assert.equal(first.status().state, "quarantined");
    first.halt();
    second.halt();
    await Promise.all([first.done, second.done]);
    assert.ok(broken.allStopped() && host.allStopped());
  });

  it("a move whose new version cannot list frees its slot at the first error: other kinds start, the old version goes on", async () => {
    const host = new Host();
    const other = new Host(host.slots);
    host.source("v1").replyToList(page("5", [obj("a", "3")]));
    let recover = () => {};
    const recovered = new Promise<void>((resolve) => {
      recover = resolve;
    });
    host
      .source("v2")
      .replyToList(apiError("InternalError", 500, "conversion webhook failed"), () =>
        recovered.then(() => page("9", [obj("a", "6", { data: { x: "1" } })])),
      );
    other.source("v1").replyToList(page("5", [obj("z", "2")]));
    const kind = new KindWatch(gr, res("v1"), host);
    await soon("synced at v1", () => host.shown().includes("KIND_SYNCED v1"));
    kind.want(res("v2"));
    await soon("the move failing", () => /cannot move to v2: InternalError/.test(kind.status().reason ?? ""));
    const second = new KindWatch("others.example.com", res("v1"), other);
    await soon("the other kind synced with the only slot", () => other.shown().includes("KIND_SYNCED v1"));
    host.source("v1").lastWatch?.push({ type: "MODIFIED", object: obj("a", "6", { data: { x: "1" } }) });
    await soon("the old version's update", () => host.shown().includes("MODIFIED a@v1 live"));

    recover();
    await soon("moved", () => host.shown().includes("KIND_VERSION_CHANGED v2"));
    assert.deepEqual(host.shown(), [
      "KIND_ADDED v1",
      "ADDED a@v1 initial",
      "KIND_SYNCED v1",
      "MODIFIED a@v1 live",
      "KIND_VERSION_CHANGED v2",
    ]);
    kind.halt();
    second.halt();
    await Promise.all([kind.done, second.done]);
    assert.ok(host.allStopped() && other.allStopped());
    assert.equal(host.slots.waiting, 0);
    assert.ok(await host.slots.acquire(AbortSignal.timeout(100)), "no slot held");
  });

  it("quarantines a forbidden kind after an access review, asks again with backoff, and syncs once allowed", async () => {
    const host = new Host();
    host.deny = "forbidden: cannot list gizmos.example.com in all namespaces";
    host.source("v1").replyToList(page("5", [obj("a", "3")]));
    const kind = new KindWatch(gr, res("v1"), host);
    await soon("quarantined", () => host.shown().includes("KIND_QUARANTINED v1"));
    await soon("asked again", () => host.reviews >= 3);
    const denied = kind.status();
    assert.equal(denied.lastError?.kind, "Forbidden");
    assert.equal(denied.lastError?.message, host.deny);
    assert.ok(denied.consecutiveErrors >= 3, `every denial counts (${denied.consecutiveErrors})`);
    assert.ok(denied.nextRetryAt !== undefined && denied.nextRetryAt <= Date.now() + 20, "the next review is due soon");
    assert.equal(host.source("v1").lists.length, 0, "not listed while forbidden");
    assert.equal(host.shown().filter((s) => s.startsWith("KIND_QUARANTINED")).length, 1, "one event, not one a retry");
    host.deny = undefined;
    await soon("synced", () => host.shown().includes("KIND_SYNCED v1"));
    assert.deepEqual(host.shown(), ["KIND_ADDED v1", "KIND_QUARANTINED v1", "ADDED a@v1 initial", "KIND_SYNCED v1"]);
    const allowed = kind.status();
    assert.deepEqual([allowed.consecutiveErrors, allowed.lastError, allowed.nextRetryAt], [0, undefined, undefined]);
    kind.halt();
    await kind.done;
  });

  it("resumes from what a previous run delivered: only the differences, then KIND_SYNCED", async () => {
    const host = new Host();
    host.source("v1").replyToList(page("9", [obj("a", "3"), obj("b", "7"), obj("d", "8", { uid: "new" })]));
    const before = new Map([
      ["ns/a", "uid-a 3"],
      ["ns/b", "uid-b 4"],
      ["ns/c", "uid-c 5"],
      ["ns/d", "old 2"],
    ]);
    const kind = new KindWatch(gr, res("v1"), host, before);
    await soon("synced", () => host.shown().includes("KIND_SYNCED v1"));
    assert.deepEqual(host.shown(), [
      "KIND_ADDED v1",
      "MODIFIED b@v1 relist",
      "DELETED d@v1 relist",
      "ADDED d@v1 relist",
      "DELETED c@v1 relist",
      "KIND_SYNCED v1",
    ]);
    const deleted = host.events[4] as ObjectEvent;
    assert.equal(deleted.finalStateUnknown, true);
    assert.deepEqual(deleted.object.metadata, { name: "c", namespace: "ns", uid: "uid-c", resourceVersion: "5" });
    kind.halt();
    await kind.done;
  });
});

/** A host whose access reviews cannot be asked (no authorization API): its kinds list anyway, and the list tells. */
class UnreviewableHost extends Host {
  override denied(): Promise<string | undefined> {
    this.reviews++;
    return Promise.reject(new Error("the server has no authorization API"));
  }
}

describe("KindWatch: a forbidden kind and the listing slot", () => {
  for (const found of ["by its access review", "by its list, when no access review can be asked"] as const) {
    it(`gives the only slot back while forbidden (${found}), so that another kind syncs meanwhile`, async () => {
      const healthy = new Host();
      const forbidden = found.startsWith("by its list") ? new UnreviewableHost(healthy.slots) : new Host(healthy.slots);
      forbidden.deny = "forbidden: cannot list gizmos.example.com in all namespaces";
      forbidden.source("v1").defaultList = apiError("Forbidden", 403, "gizmos.example.com is forbidden");
      healthy.source("v1").replyToList(page("5", [obj("a", "3")]));
      const first = new KindWatch("forbidden.example.com", res("v1"), forbidden);
      const second = new KindWatch(gr, res("v1"), healthy);
      try {
        await soon("quarantined", () => forbidden.shown().includes("KIND_QUARANTINED v1"));
        await soon("the other kind synced with the only slot", () => healthy.shown().includes("KIND_SYNCED v1"));
        await soon("the forbidden kind retried meanwhile", () =>
          found.startsWith("by its list") ? forbidden.source("v1").lists.length >= 3 : forbidden.reviews >= 3,
        );
        assert.equal(first.status().state, "quarantined");
        assert.match(first.status().reason ?? "", /forbidden/i);
        assert.deepEqual(forbidden.shown(), ["KIND_ADDED v1", "KIND_QUARANTINED v1"]);
      } finally {
        // A failure above must not leave the forbidden kind retrying for ever, and the test process alive.
        first.halt();
        second.halt();
        await Promise.all([first.done, second.done]);
      }
      assert.ok(forbidden.allStopped() && healthy.allStopped());
      assert.ok(await healthy.slots.acquire(AbortSignal.timeout(100)), "no slot held after the halt");
    });
  }
});
