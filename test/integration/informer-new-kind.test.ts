/**
 * An informer on a kind whose CRD was just made: the API server fills the new kind's watch cache on its first request
 * and until then answers a streaming list 429 "storage is (re)initializing" with Retry-After: 1 s. The informer lists
 * it at once, with a paginated list (served from etcd meanwhile), rather than the transport waiting out that second.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { RetryEvent } from "../../src/http/transport.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, clientEnv, clientFor } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { waitFor } from "../support/wait.js";
import { simpleCrd, uniqueGroup } from "../support/watchall.js";

/** Several kinds: the first request to a new kind finds its cache still filling nearly always, not always. */
const kinds = 3;

describe("informer on a brand-new CRD", () => {
  let env: ClientEnv;
  let watching: ReturnType<typeof clientFor>;
  const retries: RetryEvent[] = [];
  const specs: CrdSpec[] = Array.from({ length: kinds }, (_, i) => simpleCrd(uniqueGroup(`newkind${i}`)));

  before(async () => {
    env = await clientEnv("informer-new-kind");
    watching = clientFor(env.cluster.kubeconfigPath, { onRetry: (e) => retries.push(e) });
  });
  after(async () => {
    for (const spec of specs) await deleteCrd(env.transport, spec);
    await watching.transport.close();
    await env.close();
  });

  it("syncs without a retry while the kind's watch cache fills, then follows the kind's objects", async () => {
    for (const spec of specs) {
      // Waits by reading the CRD, not the kind: the informer's list is the kind's first request.
      await createCrd(env.transport, spec);
      const gvr = { group: spec.group, version: "v1", resource: spec.plural };
      const informer = new Informer<KubeObject>(listWatchOf(watching.client.resource(gvr).namespace(env.namespace)));
      try {
        const before = retries.length;
        informer.start();
        await informer.synced(AbortSignal.timeout(20_000));
        // Read before any I/O callback can run: the retries of the list, not of the watch that follows it.
        const waited = retries.slice(before).map((r) => `${r.request}: ${r.error.message} (${r.delayMs} ms)`);
        assert.deepEqual(waited, [], `${spec.group}: the list waited on the server's Retry-After`);
        await env.client
          .resource(gvr)
          .namespace(env.namespace)
          .create({ apiVersion: `${spec.group}/v1`, kind: spec.kind, metadata: { name: "first" } });
        await waitFor(`the informer of ${spec.group} to hold the new object`, () =>
          informer.store.get(`${env.namespace}/first`),
        );
      } finally {
        await informer.stop();
      }
    }
  });
});
