/**
 * The shared informer factory on the real API server: waitForSync() without a signal gives up, with an
 * InformerStoppedError, when an informer it waits for stops before it has synced.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SharedInformerFactory } from "../../src/cache/factory.js";
import { InformerStoppedError } from "../../src/cache/informer.js";
import type { GroupVersionResource } from "../../src/client/gvr.js";
import type { ApiError } from "../../src/http/errors.js";
import { type ClientEnv, clientEnv, configMapsGvr } from "../support/client.js";
import { outcome, uniqueName, waitFor } from "../support/wait.js";

describe("shared informer factory on the real API server", () => {
  let env: ClientEnv;
  // A resource the server does not serve: its list answers 404 for as long as the informer retries.
  const missing: GroupVersionResource = { group: "", version: "v1", resource: uniqueName("missing") };

  before(async () => {
    env = await clientEnv("factory");
  });
  after(() => env.close());

  /** A factory holding an informer that syncs and one that never can, the latter's list refused at least once. */
  async function factoryWithUnsyncable() {
    const factory = new SharedInformerFactory(env.client, { backoff: { initialMs: 50, maxMs: 200 } });
    const good = factory.acquire({ gvr: configMapsGvr, namespace: env.namespace });
    const bad = factory.acquire({ gvr: missing });
    const errors: ApiError[] = [];
    bad.informer.onError((error) => void errors.push(error));
    await waitFor("the list refused", () => errors[0], { timeoutMs: 20_000 });
    assert.equal(errors[0]?.kind, "NotFound");
    return { factory, good, bad };
  }

  it("waitForSync() rejects once the last holder releases an informer that has not synced", async () => {
    const { factory, good, bad } = await factoryWithUnsyncable();
    try {
      const waiting = outcome(factory.waitForSync());
      await good.informer.synced(AbortSignal.timeout(20_000));
      assert.equal(waiting(), undefined, "still waiting for the informer that cannot list");
      await bad.release();
      const reason = await waitFor("waitForSync() to give up", waiting, { timeoutMs: 5000 });
      assert.ok(reason instanceof InformerStoppedError, String(reason));
      assert.match(reason.message, new RegExp(`the informer of ${missing.resource}/v1 stopped before it synced`));
      await factory.waitForSync(); // only the synced informer is held now
    } finally {
      await factory.shutdown();
    }
  });

  it("waitForSync() rejects when shutdown() stops an informer that has not synced", async () => {
    const { factory } = await factoryWithUnsyncable();
    const waiting = outcome(factory.waitForSync());
    await factory.shutdown();
    const reason = await waitFor("waitForSync() to give up", waiting, { timeoutMs: 5000 });
    assert.ok(reason instanceof InformerStoppedError, String(reason));
  });
});
