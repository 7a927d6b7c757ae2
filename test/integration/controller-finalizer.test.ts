/** withFinalizer against the real server: the finalizer before any side effect, cleanup before deletion, conflicts. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ResourceClient } from "../../src/client/resource.js";
import { withFinalizer } from "../../src/controller/finalizer.js";
import { isNotFound } from "../../src/http/errors.js";
import * as meta from "../../src/object/meta.js";
import type { KubeObject } from "../../src/object/types.js";
import { type Client, type ClientEnv, clientEnv, createWidgetCrd, type WidgetKind, widget } from "../support/client.js";
import { waitFor } from "../support/wait.js";
import { type CountingTransport, countingTransportFor } from "../support/watchall.js";

const ours = "widgets.example.com/cleanup";
const theirs = "someone.example.com/else";

describe("withFinalizer", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let widgets: Client;
  let counting: CountingTransport;
  let counted: Client;

  before(async () => {
    env = await clientEnv("ctrl-finalizer");
    kind = await createWidgetCrd(env.client);
    widgets = env.client.resource(kind.gvr).namespace(env.namespace);
    counting = countingTransportFor(env.cluster.kubeconfigPath);
    counted = new ResourceClient<KubeObject>(counting, kind.gvr).namespace(env.namespace);
  });

  after(async () => {
    await kind?.remove();
    await counting?.close();
    await env?.close();
  });

  const gone = async (name: string) => {
    try {
      await widgets.get(name);
      return false;
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
  };

  it("adds the finalizer before ensure runs, and then writes nothing more", async () => {
    const created = await widgets.create(widget(kind, "add"));
    let seenByEnsure: string[] = [];
    const result = await withFinalizer(counted, created, ours, {
      ensure: async (w) => {
        // What the server holds when the side effect would happen.
        seenByEnsure = meta.finalizers(await widgets.get("add"));
        assert.ok(meta.hasFinalizer(w, ours));
        return "ensured";
      },
      cleanup: async () => assert.fail("not being deleted"),
    });
    assert.equal(result, "ensured");
    assert.deepEqual(seenByEnsure, [ours]);

    const current = await widgets.get("add");
    const before = counting.calls.length;
    assert.equal(
      await withFinalizer(counted, current, ours, { ensure: async () => "again", cleanup: async () => {} }),
      "again",
    );
    assert.equal(counting.calls.length, before, "the finalizer is there: no request");
  });

  it("runs cleanup while the object still exists, and removes the finalizer only after it succeeded", async () => {
    const created = await widgets.create(widget(kind, "clean"));
    await withFinalizer(widgets, created, ours, { ensure: async () => undefined, cleanup: async () => {} });
    const deleting = await widgets.delete("clean");
    assert.ok(meta.isBeingDeleted(deleting), "the finalizer holds the object");

    // A failing cleanup keeps the finalizer, and so the object.
    const boom = new Error("the external thing would not go");
    await assert.rejects(
      withFinalizer(widgets, await widgets.get("clean"), ours, {
        ensure: async () => assert.fail("being deleted"),
        cleanup: async () => {
          throw boom;
        },
      }),
      (err) => err === boom,
    );
    const held = await widgets.get("clean");
    assert.ok(meta.isBeingDeleted(held));
    assert.deepEqual(meta.finalizers(held), [ours]);

    let during: KubeObject | undefined;
    const result = await withFinalizer(widgets, held, ours, {
      ensure: async () => assert.fail("being deleted"),
      cleanup: async () => {
        during = await widgets.get("clean");
      },
    });
    assert.equal(result, undefined);
    assert.ok(during && meta.hasFinalizer(during, ours), "cleanup ran before the finalizer came off");
    await waitFor("the object to be gone", () => gone("clean"));
  });

  it("does nothing for an object being deleted without its finalizer", async () => {
    await widgets.create(widget(kind, "other", {}, { finalizers: [theirs] }));
    await widgets.delete("other");
    const deleting = await widgets.get("other");
    const before = counting.calls.length;
    const result = await withFinalizer(counted, deleting, ours, {
      ensure: async () => assert.fail("being deleted"),
      cleanup: async () => assert.fail("not ours"),
    });
    assert.equal(result, undefined);
    assert.equal(counting.calls.length, before);
    assert.deepEqual(meta.finalizers(await widgets.get("other")), [theirs]);
    await widgets.patch("other", { metadata: { finalizers: null } }, "merge");
  });

  it("retries a conflicting add on a fresh read and keeps a finalizer someone else added meanwhile", async () => {
    const stale = await widgets.create(widget(kind, "race-add"));
    await widgets.patch("race-add", { metadata: { finalizers: [theirs] }, spec: { size: 3 } }, "merge");
    const patches = () => counting.calls.filter((c) => c.method === "PATCH").length;
    const before = patches();
    const result = await withFinalizer(counted, stale, ours, {
      ensure: async (w) => meta.finalizers(w),
      cleanup: async () => {},
    });
    assert.deepEqual(result, [theirs, ours]);
    assert.equal(patches() - before, 2, "the first patch met a Conflict, the second went through");
    const current = await widgets.get("race-add");
    assert.deepEqual(meta.finalizers(current), [theirs, ours]);
    assert.equal((current.spec as { size?: number }).size, 3);
    await widgets.patch("race-add", { metadata: { finalizers: null } }, "merge");
  });

  it("retries a conflicting removal on a fresh read, so the object is not stuck on a finalizer already gone", async () => {
    await widgets.create(widget(kind, "race-remove", {}, { finalizers: [theirs, ours] }));
    await widgets.delete("race-remove");
    const stale = await widgets.get("race-remove");
    // Another controller finishes its own cleanup first.
    await widgets.patch("race-remove", { metadata: { finalizers: [ours] } }, "merge");
    let cleanups = 0;
    await withFinalizer(counted, stale, ours, {
      ensure: async () => assert.fail("being deleted"),
      cleanup: async () => {
        cleanups++;
      },
    });
    assert.equal(cleanups, 1);
    await waitFor("the object to be gone", () => gone("race-remove"));
  });
});
