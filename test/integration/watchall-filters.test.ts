/**
 * Filters and views of the watch-all engine on the real server: included and excluded namespaces, label selectors,
 * cluster-scoped kinds, metadata-only watching, built-in kinds, noise kept on request, and resyncs said to be so.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Transport } from "../../src/http/transport.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, clientEnv, configMap, configMapsGvr, namespacesGvr } from "../support/client.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { uniqueName } from "../support/wait.js";
import {
  EventLog,
  engineCluster,
  fastRetries,
  isObjectEvent,
  simpleCrd,
  transportFor,
  uniqueGroup,
} from "../support/watchall.js";

describe("watch-all: filters and views", () => {
  let env: ClientEnv;
  let transport: Transport;
  const namespaced = simpleCrd(uniqueGroup("waf-n"));
  const clustered = simpleCrd(uniqueGroup("waf-c"), "Clump", "Cluster");
  const groups = [namespaced.group, clustered.group];
  const [ns1, ns2, ns3] = [uniqueName("waf1"), uniqueName("waf2"), uniqueName("waf3")];

  const gizmo = (ns: string, name: string, team: string): Promise<KubeObject> =>
    env.client
      .resource({ group: namespaced.group, version: "v1", resource: "gizmos" })
      .namespace(ns)
      .create({
        apiVersion: `${namespaced.group}/v1`,
        kind: "Gizmo",
        metadata: { name, labels: { team } },
        spec: { n: 1 },
      });

  before(async () => {
    env = await clientEnv("watchall-filters");
    transport = transportFor(env.cluster.kubeconfigPath);
    for (const ns of [ns1, ns2, ns3]) {
      await env.client.resource(namespacesGvr).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    }
    await createCrd(env.transport, namespaced);
    await createCrd(env.transport, clustered);
    await gizmo(ns1, "x", "a");
    await gizmo(ns1, "y", "b");
    await gizmo(ns2, "x", "a");
    await gizmo(ns3, "x", "a");
    await env.client
      .resource({ group: clustered.group, version: "v1", resource: "clumps" })
      .create({ apiVersion: `${clustered.group}/v1`, kind: "Clump", metadata: { name: "h1", labels: { team: "a" } } });
  });
  after(async () => {
    for (const spec of [namespaced, clustered]) await deleteCrd(env.transport, spec);
    for (const ns of [ns1, ns2, ns3])
      await env.client
        .resource(namespacesGvr)
        .delete(ns)
        .catch(() => {});
    await transport.close();
    await env.close();
  });

  const names = (log: EventLog, group: string) =>
    log
      .of(group)
      .filter(isObjectEvent)
      .map((e) => `${e.type} ${e.namespace}/${e.name}`);

  it("watches only included namespaces and labels, leaves cluster-scoped kinds out, and can watch metadata only", async () => {
    const log = EventLog.start(engineCluster(transport), {
      ...fastRetries,
      include: { groups, namespaces: [ns1, ns2] },
      labelSelector: "team=a",
      metadataOnly: true,
    });
    try {
      await log.kindEvent(namespaced.group, "KIND_SYNCED");
      assert.deepEqual(names(log, namespaced.group).sort(), [`ADDED ${ns1}/x`, `ADDED ${ns2}/x`]);
      const first = log.of(namespaced.group).find(isObjectEvent);
      assert.equal(first?.object.spec, undefined, "metadata only");
      assert.equal(first?.object.metadata.labels?.team, "a");
      // Outside the namespaces first, then inside: in one ordered stream, the first would show before the second.
      await gizmo(ns3, "z", "a");
      await gizmo(ns1, "z", "b");
      await gizmo(ns1, "w", "a");
      await log.next("ns1/w", (e) => isObjectEvent(e) && e.name === "w");
      assert.deepEqual(names(log, namespaced.group).slice(2), [`ADDED ${ns1}/w`]);
      assert.deepEqual(log.kinds(clustered.group), [], "a cluster-scoped kind has no namespace to be in");
    } finally {
      await log.stop();
    }
  });

  it("excludes namespaces, keeps noise when asked, and says which updates are resyncs", async () => {
    const log = EventLog.start(engineCluster(transport), {
      ...fastRetries,
      include: { groups },
      exclude: { namespaces: [ns1] },
      dropNoise: false,
      informer: { ...fastRetries.informer, resyncMs: 400 },
    });
    try {
      await log.kindEvent(namespaced.group, "KIND_SYNCED");
      await log.kindEvent(clustered.group, "KIND_SYNCED");
      const added = (group: string) =>
        names(log, group)
          .filter((n) => n.startsWith("ADDED"))
          .sort();
      assert.deepEqual(added(namespaced.group), [`ADDED ${ns2}/x`, `ADDED ${ns3}/x`, `ADDED ${ns3}/z`]);
      assert.deepEqual(added(clustered.group), ["ADDED /h1"]);
      const resync = await log.next("a resync", (e) => isObjectEvent(e) && e.origin === "resync");
      assert.ok(isObjectEvent(resync));
      assert.equal(resync.type, "MODIFIED");
      assert.deepEqual(resync.changedPaths, []);

      await env.client
        .resource({ group: namespaced.group, version: "v1", resource: "gizmos" })
        .namespace(ns2)
        .apply(
          { apiVersion: `${namespaced.group}/v1`, kind: "Gizmo", metadata: { name: "x" }, spec: { n: 1 } },
          { fieldManager: "someone-else" },
        );
      const noise = await log.next(
        "the noise update",
        (e) => isObjectEvent(e) && e.origin === "live" && e.type === "MODIFIED" && e.namespace === ns2,
      );
      assert.ok(isObjectEvent(noise));
      assert.deepEqual(noise.changedPaths, ["metadata.resourceVersion"], "managedFields are dropped by the informer");
      assert.ok(
        log.events.every((e) => !(isObjectEvent(e) && e.namespace === ns1)),
        "nothing from the excluded namespace",
      );
    } finally {
      await log.stop();
    }
  });

  it("watches built-in kinds that include names, in one namespace", async () => {
    await env.client
      .resource(configMapsGvr)
      .namespace(ns2)
      .create(configMap("settings", { a: "1" }));
    const log = EventLog.start(engineCluster(transport), {
      ...fastRetries,
      include: { kinds: ["ConfigMap"], namespaces: [ns2] },
    });
    try {
      await log.kindEvent("", "KIND_SYNCED");
      assert.deepEqual(log.kinds(""), ["KIND_ADDED v1", "KIND_SYNCED v1"]);
      assert.deepEqual(names(log, ""), [`ADDED ${ns2}/settings`]);
      const [event] = log.of("").filter(isObjectEvent);
      assert.deepEqual(
        { group: event?.group, version: event?.version, kind: event?.kind, resource: event?.resource },
        { group: "", version: "v1", kind: "ConfigMap", resource: "configmaps" },
      );
      assert.deepEqual(
        log.events.filter((e) => e.group !== ""),
        [],
        "only what include names",
      );
    } finally {
      await log.stop();
    }
  });
});
