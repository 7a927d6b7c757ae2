/**
 * `watchesAll` against the real server: objects of every custom kind, including a kind whose CRD is created while the
 * controller runs, reach the reconcile of the ConfigMap their label names; reconciles wait for the engine's first
 * listing of the kinds that existed when it started.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SharedInformerFactory } from "../../src/cache/factory.js";
import { DynamicClient } from "../../src/client/resource.js";
import { type ControllerCluster, controller, done, type Request } from "../../src/controller/index.js";
import { DiscoveryClient } from "../../src/discovery/client.js";
import { RestMapper } from "../../src/discovery/mapper.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, clientEnv, configMapsGvr, namespacesGvr } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { uniqueName, waitFor } from "../support/wait.js";

const intoLabel = "summary.kindwatch.dev/into";

/** A namespaced kind of a unique group, made by the test. */
const kindSpec = (kind: string): CrdSpec => ({
  group: `${uniqueName(kind.toLowerCase())}.kindwatch.dev`,
  kind,
  plural: `${kind.toLowerCase()}s`,
  versions: [{ name: "v1", storage: true }],
});

/** The ConfigMap an object's label names, in its namespace. */
const summaryOf = (obj: KubeObject): readonly Request[] => {
  const into = obj.metadata.labels?.[intoLabel];
  return into && obj.metadata.namespace ? [{ namespace: obj.metadata.namespace, name: into }] : [];
};

describe("Controller watchesAll", () => {
  let env: ClientEnv;
  let cluster: ControllerCluster;
  const crds: CrdSpec[] = [];
  const namespaces: string[] = [];
  const running: { abort: AbortController; done: Promise<void> }[] = [];

  before(async () => {
    env = await clientEnv("ctrl-all");
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
    for (const spec of crds) await deleteCrd(env.transport, spec).catch(() => {});
    for (const ns of namespaces)
      await env.client
        .resource(namespacesGvr)
        .delete(ns)
        .catch(() => {});
    await env?.close();
  });

  it("reconciles the labelled ConfigMap for objects of kinds that existed and of a CRD created later", async () => {
    const ns = uniqueName("ctrl-all");
    await env.client.resource(namespacesGvr).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    namespaces.push(ns);
    const early = kindSpec("Gadget");
    crds.push(early);
    await createCrd(env.transport, early);
    const objectOf = (spec: CrdSpec, name: string, into: string): KubeObject => ({
      apiVersion: `${spec.group}/v1`,
      kind: spec.kind,
      metadata: { name, namespace: ns, labels: { [intoLabel]: into } },
    });
    const objects = (spec: CrdSpec) =>
      env.client.resource({ group: spec.group, version: "v1", resource: spec.plural }).namespace(ns);
    await objects(early).create(objectOf(early, "g1", "gadgets"));
    await env.client
      .resource(configMapsGvr)
      .namespace(ns)
      .create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "unrelated" } });

    const reconciled: string[] = [];
    const mapped: string[] = [];
    let mappedAtFirstReconcile: number | undefined;
    const c = controller(cluster, { name: "summaries", namespace: ns, logger: "none" })
      .for(configMapsGvr)
      .watchesAll(
        (obj, kind) => {
          mapped.push(`${kind.kind}/${obj.metadata.name}`);
          return summaryOf(obj);
        },
        { labelSelector: intoLabel },
      )
      .reconcile(async (req) => {
        mappedAtFirstReconcile ??= mapped.length;
        reconciled.push(`${req.namespace}/${req.name}`);
        return done();
      });
    const abort = new AbortController();
    running.push({ abort, done: c.run(abort.signal) });

    // The ConfigMap informer lists one object at once; the engine has discovery, access reviews and a list per kind to
    // do first. Reconciles wait for both.
    await waitFor("the first reconciles", () => reconciled.includes(`${ns}/gadgets`));
    assert.ok(
      (mappedAtFirstReconcile ?? 0) >= 1,
      `the Gadget was mapped before the first reconcile (mapped then: ${mappedAtFirstReconcile})`,
    );

    // A kind that did not exist when the controller started.
    const late = kindSpec("Sprocket");
    crds.push(late);
    await createCrd(env.transport, late);
    await waitFor("the new kind to be served", async () => (await objects(late).list({ limit: 1 })) !== undefined);
    const before = reconciled.length;
    await objects(late).create(objectOf(late, "s1", "sprockets"));
    await waitFor("a reconcile of the ConfigMap the Sprocket names", () =>
      reconciled.slice(before).includes(`${ns}/sprockets`),
    );
    assert.ok(mapped.includes("Sprocket/s1"));

    // A label moved to another ConfigMap: both hear of it, the one it left and the one it names now.
    const moved = reconciled.length;
    await objects(late).patch("s1", { metadata: { labels: { [intoLabel]: "elsewhere" } } }, "merge");
    await waitFor("reconciles of both ConfigMaps", () => {
      const since = reconciled.slice(moved);
      return since.includes(`${ns}/elsewhere`) && since.includes(`${ns}/sprockets`);
    });
  });
});
