/**
 * An informer run by a user whom RBAC does not allow to list or watch the kind: it reports Forbidden through
 * `onError`, retries with backoff, never throws nor crashes the process; once a Role and RoleBinding grant the rights,
 * it syncs.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { ApiError } from "../../src/http/errors.js";
import type { KubeObject } from "../../src/object/types.js";
import { clientFor, configMapsGvr as configmaps } from "../support/client.js";
import { assertConverged, HandlerLog } from "../support/convergence.js";
import { cleanups, counting, createNamespace, faultCluster } from "../support/faults.js";
import { uniqueName, waitFor } from "../support/wait.js";

const roles = { group: "rbac.authorization.k8s.io", version: "v1", resource: "roles" } as const;
const roleBindings = { group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings" } as const;

describe("an informer whose user may not watch the kind", () => {
  const ns = uniqueName("forbidden");
  let env: Awaited<ReturnType<typeof faultCluster>>;
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);
  const cleanup = cleanups();
  afterEach(() => cleanup.run());

  before(async () => {
    process.on("unhandledRejection", onCrash);
    process.on("uncaughtException", onCrash);
    env = await faultCluster();
    await createNamespace(env.admin.client, ns);
  });
  after(async () => {
    process.off("unhandledRejection", onCrash);
    process.off("uncaughtException", onCrash);
    await env?.close();
  });

  for (const streamingList of [true, false]) {
    it(`reports Forbidden, backs off, and syncs once granted (streaming list: ${streamingList})`, {
      timeout: 60_000,
    }, async () => {
      const cms = env.admin.client.resource(configmaps).namespace(ns);
      const prefix = streamingList ? "s" : "p";
      for (let i = 0; i < 5; i++)
        await cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${prefix}-before-${i}` } });

      const user = await env.cluster.user(uniqueName("bob"));
      const conn = clientFor(user.kubeconfigPath);
      cleanup.defer(() => conn.transport.close());
      const { source, calls } = counting(listWatchOf(conn.client.resource(configmaps).namespace(ns)));
      const backoff = { initialMs: 100, maxMs: 800 };
      const informer = new Informer<KubeObject>(source, { backoff, streamingList });
      const log = new HandlerLog("only");
      informer.addHandlers(log.handlers());
      const errors: { error: ApiError; retryInMs: number }[] = [];
      informer.onError((error, retryInMs) => errors.push({ error, retryInMs }));
      informer.start();
      cleanup.defer(() => informer.stop());

      await waitFor("four Forbidden errors", () => errors.length >= 4, { timeoutMs: 10_000 });
      assert.deepEqual([...new Set(errors.map((e) => e.error.kind))], ["Forbidden"]);
      assert.ok(
        errors.every((e, i) => e.retryInMs >= (errors[i - 1]?.retryInMs ?? 0)),
        `the backoff grows: ${errors.map((e) => Math.round(e.retryInMs)).join(", ")} ms`,
      );
      assert.ok(calls.lists + calls.watches <= errors.length + 1, "one request per error: no hidden retries");
      assert.equal(informer.hasSynced, false);
      assert.equal(informer.status().lastError?.kind, "Forbidden");

      const role = `${prefix}-reader`;
      await env.admin.client
        .resource(roles)
        .namespace(ns)
        .create({
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "Role",
          metadata: { name: role },
          rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "watch"] }],
        });
      await env.admin.client
        .resource(roleBindings)
        .namespace(ns)
        .create({
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "RoleBinding",
          metadata: { name: role },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role },
          subjects: [user.subject],
        });
      await informer.synced(AbortSignal.timeout(15_000));
      await cms.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${prefix}-after` } });
      await cms.delete(`${prefix}-before-0`);
      const result = await assertConverged(informer, cms, [log]);
      assert.ok(result.objects >= 5);
      console.log(
        `forbidden (streaming ${streamingList}): ${errors.length} Forbidden errors before the grant, ` +
          `backoff ${errors.map((e) => Math.round(e.retryInMs)).join("/")} ms, ${calls.lists} lists, ${calls.watches} watches`,
      );
      assert.deepEqual(crashes, [], "nothing was thrown out of the informer");
    });
  }
});
