/**
 * A controller's owned objects on the full control plane: kube-controller-manager's garbage collector removes them once
 * their owner is gone (the controller deletes nothing itself), and while the owner lives, an owned object deleted by
 * someone else reaches the owner, whose reconcile puts it back. A dependent controlled by another kind of the same
 * name reaches nobody.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SharedInformerFactory } from "../../src/cache/factory.js";
import { type ControllerCluster, controller, done, setControllerReference } from "../../src/controller/index.js";
import { isNotFound } from "../../src/http/errors.js";
import type { KubeObject } from "../../src/object/types.js";
import {
  type ClientEnv,
  configMap,
  configMapsGvr,
  crdsGvr,
  createWidgetCrd,
  type WidgetKind,
  widget,
} from "../support/client.js";
import { crdManifest, objectSchema } from "../support/crd-manifest.js";
import { fullClientEnv } from "../support/full.js";
import { waitFor } from "../support/wait.js";

const fieldManager = "controller-gc-test";

async function gone(get: () => Promise<unknown>): Promise<boolean> {
  try {
    await get();
    return false;
  } catch (err) {
    if (isNotFound(err)) return true;
    throw err;
  }
}

describe("full control plane: a controller's owned objects", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let cluster: ControllerCluster;
  const stop = new AbortController();
  let running: Promise<void>;
  /** The keys reconciled, in order. */
  const reconciled: string[] = [];

  before(async () => {
    env = await fullClientEnv("full-ctrl-gc");
    kind = await createWidgetCrd(env.client);
    cluster = { client: env.client, informers: new SharedInformerFactory(env.client, { logger: "none" }) };
    const ns = env.namespace;
    // Concurrency 1, so keys are reconciled in the order they were queued (the last test relies on it).
    const c = controller(cluster, { name: "controller-gc", namespace: ns, logger: "none" })
      .for({ ...kind.gvr, kind: "Widget", namespaced: true })
      .owns(configMapsGvr)
      .reconcile(async (req, ctx) => {
        reconciled.push(req.name);
        const owner = ctx.get(req);
        // Gone or going: the garbage collector, not the controller, removes what it owned.
        if (!owner || owner.metadata.deletionTimestamp) return done();
        for (const suffix of ["a", "b"]) {
          const cm = {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: `${req.name}-${suffix}`, namespace: ns },
            data: { owner: req.name },
          };
          setControllerReference(owner, cm);
          await ctx.client.resource(configMapsGvr).namespace(ns).apply(cm, { fieldManager, force: true });
        }
        return done();
      });
    running = c.run(stop.signal);
  });

  after(async () => {
    stop.abort();
    await running;
    await cluster?.informers.shutdown();
    if (kind) {
      await env.client
        .resource(crdsGvr)
        .delete(`gadgets.${kind.group}`)
        .catch(() => {});
      await kind.remove();
    }
    await env?.close();
  });

  const widgets = () => env.client.resource(kind.gvr).namespace(env.namespace);
  const configMaps = () => env.client.resource(configMapsGvr).namespace(env.namespace);
  const owned = (name: string) =>
    waitFor(`${name}'s ConfigMaps`, async () => {
      const list = await configMaps().list();
      const mine = list.items.filter((cm) => cm.metadata.ownerReferences?.[0]?.name === name);
      return mine.length === 2 ? mine : undefined;
    });

  it("leaves the owned ConfigMaps to the garbage collector once the owner is deleted", async () => {
    const owner = await widgets().create(widget(kind, "shop"));
    const cms = await owned("shop");
    for (const cm of cms) {
      assert.deepEqual(cm.metadata.ownerReferences, [
        {
          apiVersion: kind.apiVersion,
          kind: "Widget",
          name: "shop",
          uid: owner.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }

    await widgets().delete("shop", { propagationPolicy: "Background" });
    // The collector finds a kind created a moment ago at its next discovery of resources (every 30 s), so the first
    // collection of this test file's new CRD's dependents may take that long.
    const collected = async () =>
      (await gone(() => configMaps().get("shop-a"))) && (await gone(() => configMaps().get("shop-b")));
    await waitFor("the owned ConfigMaps to be collected", collected, { timeoutMs: 90_000 });
  });

  it("keeps the owned ConfigMaps until the owner is gone, with foreground deletion", async () => {
    await widgets().create(widget(kind, "depot"));
    await owned("depot");
    await widgets().delete("depot", { propagationPolicy: "Foreground" });
    await waitFor("the owner and its ConfigMaps to be gone", async () => {
      const all = await Promise.all([
        gone(() => widgets().get("depot")),
        gone(() => configMaps().get("depot-a")),
        gone(() => configMaps().get("depot-b")),
      ]);
      return all.every(Boolean);
    });
  });

  it("recreates an owned ConfigMap deleted while its owner lives", async () => {
    await widgets().create(widget(kind, "cart"));
    const [first] = (await owned("cart")).filter((cm) => cm.metadata.name === "cart-a");
    assert.ok(first?.metadata.uid);
    await configMaps().delete("cart-a");
    const again = await waitFor("cart-a to be recreated", async () => {
      const cm = await configMaps().get("cart-a");
      return cm.metadata.uid !== first.metadata.uid ? cm : undefined;
    });
    assert.equal(again.metadata.ownerReferences?.[0]?.name, "cart");
  });

  it("maps a dependent to its owner by kind as well as name", async () => {
    await widgets().create(widget(kind, "till"));
    await widgets().create(widget(kind, "fence"));
    await owned("till");
    await owned("fence");
    // Changes of one informer are handled in order, and the one worker takes keys in order: once the reconcile that a
    // later ConfigMap change queued for "fence" has run, whatever earlier ConfigMap changes queued has run too.
    const fence = async (round: string) => {
      const from = reconciled.length;
      await configMaps().patch("fence-a", { data: { round } }, "merge");
      await waitFor(`the fence's reconcile (${round})`, () => reconciled.slice(from).includes("fence"));
    };
    await fence("settled");
    const from = reconciled.length;

    // A Gadget named like the Widget, in the Widget's group, and a ConfigMap it controls: same name, other kind.
    const gadgets = { group: kind.group, version: "v1", resource: "gadgets" };
    const crd = crdManifest({
      group: kind.group,
      kind: "Gadget",
      plural: "gadgets",
      versions: [{ name: "v1", storage: true, schema: objectSchema({}) }],
    });
    await env.client.resource(crdsGvr).create(crd);
    const namesake = await waitFor("gadgets to be served", () =>
      env.client
        .resource(gadgets)
        .namespace(env.namespace)
        .create({ apiVersion: `${kind.group}/v1`, kind: "Gadget", metadata: { name: "till" } }),
    );
    const foreign: KubeObject = {
      ...configMap("till-foreign"),
      metadata: { name: "till-foreign", namespace: env.namespace },
    };
    setControllerReference(namesake, foreign);
    await configMaps().create(foreign);
    await configMaps().patch("till-foreign", { data: { touched: "yes" } }, "merge");
    await fence("after");
    assert.deepEqual(
      reconciled.slice(from).filter((name) => name === "till"),
      [],
      "a ConfigMap controlled by the Gadget till must not reconcile the Widget till",
    );
  });
});
