/**
 * `ctx.apply` against the real server: server-side apply with the controller's field manager, owned by the primary,
 * a no-op when applied again unchanged, and taking over a field another manager owns (force, the default).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SharedInformerFactory } from "../../src/cache/factory.js";
import { type ApplyObject, DynamicClient } from "../../src/client/resource.js";
import {
  type ControllerCluster,
  type ControllerOptions,
  controller,
  done,
  type ReconcileApplyOptions,
  type ReconcileContext,
} from "../../src/controller/index.js";
import { DiscoveryClient } from "../../src/discovery/client.js";
import { RestMapper } from "../../src/discovery/mapper.js";
import { ApiError } from "../../src/http/errors.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, clientEnv, configMapsGvr, namespacesGvr } from "../support/client.js";
import { uniqueName } from "../support/wait.js";

interface ManagedFieldsEntry {
  readonly manager?: string;
  readonly operation?: string;
  readonly fieldsV1?: { readonly "f:data"?: Record<string, unknown> };
}

const managedFields = (obj: KubeObject) => (obj.metadata.managedFields ?? []) as readonly ManagedFieldsEntry[];
/** The managers that own `data.KEY`. */
const ownersOf = (obj: KubeObject, key: string) =>
  managedFields(obj)
    .filter((m) => m.fieldsV1?.["f:data"]?.[`f:${key}`] !== undefined)
    .map((m) => m.manager);

describe("ReconcileContext.apply", () => {
  let env: ClientEnv;
  let cluster: ControllerCluster;
  const namespaces: string[] = [];
  const running: { abort: AbortController; done: Promise<void> }[] = [];

  before(async () => {
    env = await clientEnv("ctrl-apply");
    const client = new DynamicClient(env.transport);
    cluster = {
      client,
      informers: new SharedInformerFactory(client, { logger: "none" }),
      mapper: new RestMapper(new DiscoveryClient(env.transport)),
    };
  });

  after(async () => {
    for (const r of running) r.abort.abort();
    await Promise.all(running.map((r) => r.done.catch(() => {})));
    await cluster?.informers.shutdown();
    for (const ns of namespaces)
      await env.client
        .resource(namespacesGvr)
        .delete(ns)
        .catch(() => {});
    await env?.close();
  });

  /**
   * Runs a controller of the ConfigMaps of a fresh namespace whose reconciles of "source" call `act`, and hands the
   * test a way to run `act` inside a reconcile (the next one of "source") and get its result or error.
   */
  const harness = async (options: Partial<ControllerOptions> = {}) => {
    const ns = uniqueName("ctrl-apply");
    await env.client.resource(namespacesGvr).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    namespaces.push(ns);
    let pending:
      | {
          act: (ctx: ReconcileContext<KubeObject>, source: KubeObject) => Promise<unknown>;
          settle: (r: { value?: unknown; error?: unknown }) => void;
        }
      | undefined;
    const c = controller(cluster, { name: "applier", namespace: ns, logger: "none", ...options })
      .for(configMapsGvr)
      .reconcile(async (req, ctx) => {
        const source = ctx.get(req);
        const job = pending;
        if (!source || req.name !== "source" || !job) return done();
        pending = undefined;
        try {
          job.settle({ value: await job.act(ctx, source) });
        } catch (error) {
          job.settle({ error });
        }
        return done();
      });
    const abort = new AbortController();
    running.push({ abort, done: c.run(abort.signal) });
    const configMaps = env.client.resource(configMapsGvr).namespace(ns);
    await configMaps.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "source" } });
    let touches = 0;
    /** Runs `act` in a reconcile of "source", which a label change causes. */
    const inReconcile = async <R>(act: (ctx: ReconcileContext<KubeObject>, source: KubeObject) => Promise<R>) => {
      const settled = new Promise<{ value?: unknown; error?: unknown }>((settle) => {
        pending = { act, settle };
      });
      await configMaps.patch("source", { metadata: { labels: { touch: String(++touches) } } }, "merge");
      const { value, error } = await settled;
      if (error !== undefined) throw error;
      return value as R;
    };
    return { ns, configMaps, inReconcile };
  };

  const derived = (data: Record<string, string>, namespace?: string): ApplyObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: namespace ? { name: "derived", namespace } : { name: "derived" },
    data,
  });

  it("applies with the controller's field manager, owned by the primary, and a second apply changes nothing", async () => {
    const { configMaps, inReconcile, ns } = await harness();
    const apply = (options?: ReconcileApplyOptions) =>
      inReconcile((ctx, source) => ctx.apply(derived({ color: "blue" }), { owner: source, ...options }));

    const first = await apply();
    assert.equal(first.metadata.namespace, ns, "the owner's namespace, as the object named none");
    const source = await configMaps.get("source");
    assert.deepEqual(
      first.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.uid, r.controller]),
      [["ConfigMap", "source", source.metadata.uid, true]],
    );
    assert.deepEqual(ownersOf(first, "color"), ["applier"], "the controller's name is its field manager");
    assert.equal(managedFields(first).find((m) => m.manager === "applier")?.operation, "Apply");

    const second = await apply();
    assert.equal(second.metadata.resourceVersion, first.metadata.resourceVersion, "nothing written the second time");
    const stored = await configMaps.get("derived");
    assert.equal(stored.metadata.resourceVersion, first.metadata.resourceVersion);
  });

  it("takes over a field another manager owns, unless told not to force", async () => {
    const { configMaps, inReconcile, ns } = await harness({ fieldManager: "widgets-operator" });
    await configMaps.apply(derived({ color: "red" }, ns), { fieldManager: "someone-else" });

    const refused = await inReconcile((ctx) => ctx.apply(derived({ color: "blue" }, ns), { force: false })).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(refused instanceof ApiError, `a conflict, not ${String(refused)}`);
    assert.equal(refused.kind, "Conflict");

    const taken = await inReconcile((ctx) => ctx.apply(derived({ color: "blue" }, ns)));
    assert.deepEqual(taken.data, { color: "blue" });
    assert.deepEqual(ownersOf(taken, "color"), ["widgets-operator"], "the field moved to the controller's manager");
  });
});
