/**
 * The CRD of a watched kind is deleted, then created again. The server deletes a CRD's objects with it, so the
 * informer must deliver a delete for each; while the kind is gone it reports NotFound and retries with a growing
 * backoff, never spinning; once the kind is back and objects are made, it syncs them.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { ApiError } from "../../src/http/errors.js";
import type { KubeObject } from "../../src/object/types.js";
import { assertConverged, HandlerLog } from "../support/convergence.js";
import { crdManifest } from "../support/crd-manifest.js";
import { cleanups, counting, createNamespace, faultCluster } from "../support/faults.js";
import { uniqueName, waitFor } from "../support/wait.js";

/** Each element with the one after it. */
function pairs<T>(xs: readonly T[]): [T, T][] {
  return xs.slice(1).flatMap((x, i) => {
    const prev = xs[i];
    return prev === undefined ? [] : [[prev, x] as [T, T]];
  });
}

const crds = { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" } as const;

describe("a watched kind whose CRD is deleted and created again", () => {
  const ns = uniqueName("crd");
  const group = `${uniqueName("g")}.kindwatch.dev`;
  const crdName = `gadgets.${group}`;
  const gadgets = { group, version: "v1", resource: "gadgets" } as const;
  let env: Awaited<ReturnType<typeof faultCluster>>;
  const cleanup = cleanups();
  afterEach(() => cleanup.run());

  const crd = crdManifest({ group, kind: "Gadget", plural: "gadgets", versions: [{ name: "v1", storage: true }] });

  const established = () =>
    waitFor(
      "the CRD to be Established",
      async () => {
        const got = await env.admin.client.resource(crds).get(crdName);
        const conditions = (got.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions;
        return conditions?.some((c) => c.type === "Established" && c.status === "True");
      },
      { timeoutMs: 20_000 },
    );

  /** Creates objects; right after a CRD is established its objects may still be refused for a moment. */
  const make = async (names: readonly string[]) => {
    const client = env.admin.client.resource(gadgets).namespace(ns);
    for (const name of names)
      await waitFor(`gadget ${name} to be created`, () =>
        client.create({ apiVersion: `${group}/v1`, kind: "Gadget", metadata: { name }, spec: { name } }),
      );
  };

  before(async () => {
    env = await faultCluster();
    await createNamespace(env.admin.client, ns);
  });
  after(async () => {
    await env?.admin.client
      .resource(crds)
      .delete(crdName)
      .catch(() => undefined);
    await env?.close();
  });

  it("delivers every delete, backs off on NotFound without spinning, and syncs the kind when it is back", {
    timeout: 60_000,
  }, async () => {
    await env.admin.client.resource(crds).create(crd);
    await established();
    const before = Array.from({ length: 20 }, (_, i) => `old-${i}`);
    await make(before);

    const backoff = { initialMs: 100, maxMs: 1600 };
    const { source, calls } = counting(listWatchOf(env.admin.client.resource(gadgets).namespace(ns)));
    const informer = new Informer<KubeObject>(source, { backoff });
    const logs = [new HandlerLog("first"), new HandlerLog("second"), HandlerLog.slow("slow", 20)];
    for (const log of logs) informer.addHandlers(log.handlers());
    const errors: { at: number; error: ApiError; retryInMs: number; requests: number }[] = [];
    informer.onError((error, retryInMs) =>
      errors.push({ at: Date.now(), error, retryInMs, requests: calls.lists + calls.watches }),
    );
    informer.start();
    cleanup.defer(() => informer.stop());
    await informer.synced(AbortSignal.timeout(20_000));
    assert.equal(informer.store.size, 20);
    // The slow handler has its 20 adds first: a delete of an add not yet told would rightly cancel it.
    await informer.idle();

    await env.admin.client.resource(crds).delete(crdName);
    await waitFor(
      "every handler to be told of every delete",
      () => logs.every((log) => log.view.size === 0) && informer.store.size === 0,
      { timeoutMs: 20_000 },
    );
    for (const log of logs) assert.equal(log.deletes, 20, `${log.name} was told of all 20 deletes`);

    // Watch the informer fail for a while: errors must be NotFound, spaced by a growing backoff.
    await waitFor("six NotFound errors", () => errors.filter((e) => e.error.kind === "NotFound").length >= 6, {
      timeoutMs: 20_000,
    });
    const first = errors.findIndex((e) => e.error.kind === "NotFound");
    const windowStart = errors[first]?.at ?? 0;
    const requestsAtStart = errors[first]?.requests ?? 0;
    await new Promise((r) => setTimeout(r, 3000)); // a window long enough to catch a spin, at the backoff's cap
    const windowMs = Date.now() - windowStart;
    const requests = calls.lists + calls.watches - requestsAtStart;
    const failed = errors.slice(first);
    assert.deepEqual(
      [...new Set(failed.map((e) => e.error.kind))],
      ["NotFound"],
      "while the kind is gone, the errors say NotFound",
    );
    for (const [i, [prev, cur]] of pairs(failed).entries()) {
      assert.ok(cur.retryInMs >= prev.retryInMs || prev.retryInMs > backoff.maxMs / 2, "the backoff never shrinks");
      assert.ok(cur.at - prev.at >= prev.retryInMs - 5, `retry ${i + 1} waited its backoff`);
    }
    const gaps = pairs(failed).map(([prev, cur]) => cur.at - prev.at);
    // The fifth wait is drawn from [800, 1600] ms, the first from [50, 100]: measured gaps add request latency.
    const [firstGap = 0, , , , fifthGap = 0] = gaps;
    const firstRetry = failed[0]?.retryInMs ?? 0;
    assert.ok(gaps.length >= 5 && fifthGap > firstGap, `the intervals grow: ${gaps.join(", ")} ms`);
    assert.ok(fifthGap >= 4 * firstRetry, `the fifth interval is at least 4 times the first wait (${firstRetry} ms)`);
    // No spin: at most one request per error, and no more errors than a backoff capped at maxMs allows.
    const bound =
      Math.ceil(Math.log2(backoff.maxMs / backoff.initialMs)) + Math.ceil(windowMs / (backoff.maxMs / 2)) + 1;
    assert.ok(requests <= bound, `${requests} requests in ${windowMs} ms; a backoff allows ${bound}`);
    assert.ok(requests <= failed.length + 1, `every request while gone failed once (${requests} / ${failed.length})`);

    await env.admin.client.resource(crds).create(crd);
    await established();
    await make(["old-1", "old-2", ...Array.from({ length: 10 }, (_, i) => `new-${i}`)]);
    const result = await assertConverged(informer, env.admin.client.resource(gadgets).namespace(ns), logs);
    assert.equal(result.objects, 12);
    const status = informer.status();
    console.log(
      `crd: ${failed.length} NotFound errors, gaps ${gaps.join("/")} ms, ${requests} requests in ${windowMs} ms ` +
        `(bound ${bound}), relists ${status.relists}, objects ${result.objects}`,
    );
  });
});
