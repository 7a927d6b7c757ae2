/** Owner references set by the helpers, as the real server stores them; the refusals happen before any request. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { OwnerReferenceError, setControllerReference, setOwnerReference } from "../../src/controller/owner.js";
import * as meta from "../../src/object/meta.js";
import type { KubeObject } from "../../src/object/types.js";
import {
  type Client,
  type ClientEnv,
  clientEnv,
  configMap,
  configMapsGvr,
  createWidgetCrd,
  type WidgetKind,
  widget,
} from "../support/client.js";
import { rejectsWith } from "../support/failure.js";

describe("owner references on the server", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let widgets: Client;
  let configMaps: Client;

  before(async () => {
    env = await clientEnv("ctrl-owner");
    kind = await createWidgetCrd(env.client);
    widgets = env.client.resource(kind.gvr).namespace(env.namespace);
    configMaps = env.client.resource(configMapsGvr).namespace(env.namespace);
  });

  after(async () => {
    await kind?.remove();
    await env?.close();
  });

  const dependent = (name: string): KubeObject => {
    const cm = configMap(name);
    cm.metadata.namespace = env.namespace;
    return cm;
  };

  it("stores the controller reference it sets, and a plain owner beside it", async () => {
    const owner = await widgets.create(widget(kind, "owner"));
    const other = await widgets.create(widget(kind, "other"));
    const cm = dependent("owned");
    setControllerReference(owner, cm);
    setOwnerReference(other, cm);
    const stored = await configMaps.create(cm);
    assert.deepEqual(meta.controllerOf(stored), {
      apiVersion: kind.apiVersion,
      kind: "Widget",
      name: "owner",
      uid: owner.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    });
    assert.deepEqual(
      meta.ownerReferences(stored).map((r) => [r.name, r.uid, r.controller]),
      [
        ["owner", owner.metadata.uid, true],
        ["other", other.metadata.uid, undefined],
      ],
    );
  });

  it("refuses a second controller before the server would, with the object unchanged", async () => {
    const first = await widgets.create(widget(kind, "first"));
    const second = await widgets.create(widget(kind, "second"));
    const cm = await configMaps.create(dependent("contested"));
    setControllerReference(first, cm);
    const stored = await configMaps.update(cm);
    assert.throws(
      () => setControllerReference(second, stored),
      (err) => err instanceof OwnerReferenceError && err.reason === "already-owned",
    );
    assert.equal(meta.ownerReferences(stored).length, 1);
    // What the helper keeps a caller from sending: the server refuses two controllers.
    const twoControllers = structuredClone(stored);
    twoControllers.metadata.ownerReferences?.push({
      apiVersion: kind.apiVersion,
      kind: "Widget",
      name: "second",
      uid: second.metadata.uid ?? "",
      controller: true,
    });
    await rejectsWith(configMaps.update(twoControllers), "Invalid");
  });

  it("refuses an owner in another namespace and a namespaced owner of a cluster-scoped object", async () => {
    const owner = await widgets.create(widget(kind, "scoped"));
    const elsewhere = configMap("elsewhere");
    elsewhere.metadata.namespace = "kube-system";
    assert.throws(
      () => setControllerReference(owner, elsewhere),
      (err) => err instanceof OwnerReferenceError && err.reason === "cross-namespace",
    );
    const namespace: KubeObject = { apiVersion: "v1", kind: "Namespace", metadata: { name: "cluster-scoped" } };
    assert.throws(
      () => setOwnerReference(owner, namespace),
      (err) => err instanceof OwnerReferenceError && err.reason === "cluster-scoped-dependent",
    );
    assert.equal(namespace.metadata.ownerReferences, undefined);
  });
});
