/**
 * Ten thousand ConfigMaps created, updated and (half of them) deleted as fast as the server takes them, with bounded
 * concurrency, while two informers run: one from before the churn began, one started in the middle of it (its
 * initial list races the churn). Both end equal to the server, their handlers having seen every delete.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { KubeObject } from "../../src/object/types.js";
import { Churn, type ChurnOp, names } from "../support/churn.js";
import { clientFor, configMapsGvr as configmaps } from "../support/client.js";
import { assertConverged, HandlerLog } from "../support/convergence.js";
import { faultSuite } from "../support/faults.js";
import { waitFor } from "../support/wait.js";

const objects = 10_000;
const concurrency = 16;

/**
 * Every object is created; by its index modulo 4 it is then updated and deleted (0), updated (1), deleted (2) or left
 * (3): 20,000 calls, every combination an informer must get right.
 */
function lifecycle(name: string, _exists: boolean, done: number): ChurnOp | undefined {
  const plan = ([["create", "update", "delete"], ["create", "update"], ["create", "delete"], ["create"]] as const)[
    Number(name.slice(name.lastIndexOf("-") + 1)) % 4
  ];
  return plan?.[done];
}

describe("10,000 objects churned under two informers", () => {
  const suite = faultSuite("churn");
  const { ns, cleanup } = suite;

  it("ends with both stores equal to the server and every delete seen", { timeout: 240_000 }, async () => {
    const cms = suite.env.admin.client.resource(configmaps).namespace(ns);
    const conn = clientFor(suite.env.cluster.kubeconfigPath);
    cleanup.defer(() => conn.transport.close());
    const watched = conn.client.resource(configmaps).namespace(ns);
    const early = new Informer<KubeObject>(listWatchOf(watched));
    const late = new Informer<KubeObject>(listWatchOf(watched), { streamingList: false, pageSize: 500 });
    const earlyLogs = [new HandlerLog("early-1"), new HandlerLog("early-2")];
    // An asynchronous handler too, at this scale. It keeps up with this churn, whose changes to one object are far
    // apart, so its queue merges little here: the apiserver-restart and connection-cut tests make theirs fall behind.
    const lateLogs = [new HandlerLog("late"), HandlerLog.slow("late-slow", 2)];
    for (const log of earlyLogs) early.addHandlers(log.handlers());
    for (const log of lateLogs) late.addHandlers(log.handlers());
    early.start();
    cleanup.defer(() => Promise.all([early.stop(), late.stop()]));
    await early.synced(AbortSignal.timeout(10_000));

    const started = Date.now();
    const churn = new Churn({ resource: cms, names: names("cm", objects), concurrency, next: lifecycle });
    cleanup.defer(() => churn.stop());
    await waitFor("half the objects to exist", () => churn.exists.size >= objects / 2, { timeoutMs: 180_000 });
    late.start();
    await Promise.all([churn.done, late.synced(AbortSignal.timeout(180_000))]);
    const seconds = (Date.now() - started) / 1000;

    assert.equal(churn.total, objects * 2);
    const earlyResult = await assertConverged(early, cms, earlyLogs);
    const lateResult = await assertConverged(late, cms, lateLogs);
    assert.equal(earlyResult.objects, objects / 2);
    assert.equal(lateResult.objects, objects / 2);
    for (const log of earlyLogs) assert.equal(earlyResult.deletedSeen[log.name], objects / 2);
    console.log(
      `churn-10k: ${churn.total} ops in ${seconds.toFixed(1)} s = ${Math.round(churn.total / seconds)} ops/s ` +
        `at concurrency ${concurrency}; early handlers ${earlyLogs.map((l) => `${l.adds}a/${l.updates}u/${l.deletes}d`).join(" ")}, ` +
        `late ${lateLogs.map((l) => `${l.adds}a/${l.updates}u/${l.deletes}d`).join(" ")}, relists ${early.status().relists}/${late.status().relists}`,
    );
  });
});
