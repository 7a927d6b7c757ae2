/** The discovery client against a real kube-apiserver: both protocols, caching, sharing, and unavailable APIs. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type ClusterConfig, loadConfig } from "../../src/config/index.js";
import {
  type ApiResource,
  DiscoveryClient,
  type DiscoveryResult,
  fetchDiscovery,
  isBuiltinGroup,
} from "../../src/discovery/index.js";
import { isAborted, type RequestOptions, type Response, Transport } from "../../src/http/index.js";
import { attachCluster } from "../../src/testing/index.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { uniqueName, waitFor } from "../support/wait.js";

/** A real transport that records what it is asked, to count round trips and concurrency. */
class CountingTransport extends Transport {
  readonly paths: string[] = [];
  #inFlight = 0;
  maxInFlight = 0;

  override async request(opts: RequestOptions): Promise<Response> {
    this.paths.push(opts.path);
    this.maxInFlight = Math.max(this.maxInFlight, ++this.#inFlight);
    try {
      return await super.request(opts);
    } finally {
      this.#inFlight--;
    }
  }
}

function find(result: DiscoveryResult, group: string, version: string, resource: string): ApiResource {
  const found = result.resources.find((r) => r.group === group && r.version === version && r.resource === resource);
  assert.ok(found, `discovery has ${resource} in ${group || "core"}/${version}`);
  return found;
}

describe("discovery client", () => {
  let config: ClusterConfig;
  let transport: Transport;
  const crd: CrdSpec = {
    group: `${uniqueName("disc")}.kindwatch.dev`,
    kind: "Gadget",
    plural: "gadgets",
    shortNames: ["gdg"],
    categories: ["kindwatch-gadgets"],
    versions: [
      { name: "v1", storage: true, subresources: true },
      { name: "v2beta1", subresources: true },
    ],
  };
  // Other test files add and remove CRDs meanwhile: compare what only this file controls.
  const stable = (group: string) => isBuiltinGroup(group) || group === crd.group;

  before(async () => {
    const cluster = await attachCluster();
    config = loadConfig({ kubeconfig: cluster.kubeconfigPath });
    transport = new Transport(config);
    await createCrd(transport, crd);
    const probe = new DiscoveryClient(transport);
    await waitFor("the CRD in discovery", async () =>
      (await probe.refresh()).resources.some((r) => r.group === crd.group),
    );
  });

  after(async () => {
    await deleteCrd(transport, crd);
    await transport.close();
  });

  it("finds the built-in groups with their scope, verbs and short names in two requests", async () => {
    const counting = new CountingTransport(config);
    try {
      const snapshot = await new DiscoveryClient(counting).snapshot();
      assert.equal(snapshot.source, "aggregated");
      assert.deepEqual([...counting.paths].sort(), ["/api", "/apis"]);
      assert.deepEqual(snapshot.groups[0], { name: "", versions: ["v1"], preferredVersion: "v1" });
      assert.equal(snapshot.groups.find((g) => g.name === "autoscaling")?.preferredVersion, "v2");

      const pods = find(snapshot, "", "v1", "pods");
      assert.deepEqual([pods.kind, pods.singular, pods.namespaced, pods.preferred], ["Pod", "pod", true, true]);
      assert.deepEqual(pods.shortNames, ["po"]);
      assert.ok(pods.categories.includes("all"));
      for (const verb of ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]) {
        assert.ok(pods.verbs.includes(verb), verb);
      }
      for (const sub of ["exec", "log", "status", "eviction"]) {
        assert.ok(
          pods.subresources.some((s) => s.name === sub),
          sub,
        );
      }
      const deployments = find(snapshot, "apps", "v1", "deployments");
      assert.deepEqual(
        [deployments.kind, deployments.namespaced, deployments.shortNames],
        ["Deployment", true, ["deploy"]],
      );
      assert.deepEqual(
        deployments.subresources.find((s) => s.name === "scale"),
        { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] },
      );
      const configmaps = find(snapshot, "", "v1", "configmaps");
      assert.deepEqual([configmaps.kind, configmaps.namespaced, configmaps.shortNames], ["ConfigMap", true, ["cm"]]);
      assert.equal(configmaps.subresources.length, 0);
      assert.equal(find(snapshot, "", "v1", "namespaces").namespaced, false);
      assert.equal(find(snapshot, "rbac.authorization.k8s.io", "v1", "clusterroles").namespaced, false);
      assert.deepEqual(find(snapshot, "", "v1", "bindings").verbs, ["create"]);
    } finally {
      await counting.close();
    }
  });

  it("finds the same through legacy discovery, one request per group version, a bounded number at a time", async () => {
    const counting = new CountingTransport(config);
    try {
      const aggregated = await fetchDiscovery(transport);
      const legacy = await new DiscoveryClient(counting, { legacy: true, concurrency: 3 }).snapshot();
      assert.equal(legacy.source, "legacy");
      const groupVersions = legacy.groups.reduce((n, g) => n + g.versions.length, 0) + legacy.unavailable.length;
      assert.equal(counting.paths.length, 2 + groupVersions);
      assert.ok(counting.maxInFlight <= 3, `at most 3 requests at once, saw ${counting.maxInFlight}`);

      const mine = (r: { group: string }) => stable(r.group);
      assert.deepEqual(
        legacy.groups.filter((g) => stable(g.name)),
        aggregated.groups.filter((g) => stable(g.name)),
      );
      assert.deepEqual(legacy.resources.filter(mine), aggregated.resources.filter(mine));
      assert.deepEqual(legacy.unavailable.filter(mine), []);
      assert.deepEqual(aggregated.unavailable.filter(mine), []);

      const gadgets = find(legacy, crd.group, "v1", "gadgets");
      assert.deepEqual(
        [gadgets.kind, gadgets.preferred, gadgets.shortNames, gadgets.categories],
        ["Gadget", true, ["gdg"], ["kindwatch-gadgets"]],
      );
      assert.deepEqual(
        gadgets.subresources.map((s) => `${s.name}:${s.group}/${s.version}/${s.kind}`),
        ["scale:autoscaling/v1/Scale", `status:${crd.group}/v1/Gadget`],
      );
      assert.equal(find(legacy, crd.group, "v2beta1", "gadgets").preferred, false);
    } finally {
      await counting.close();
    }
  });

  it("reports an aggregated API whose server does not answer per group version, by both protocols", async () => {
    const group = `${uniqueName("down")}.kindwatch.dev`;
    const path = `/apis/apiregistration.k8s.io/v1/apiservices/v1.${group}`;
    await transport.json({
      method: "POST",
      path: "/apis/apiregistration.k8s.io/v1/apiservices",
      body: {
        apiVersion: "apiregistration.k8s.io/v1",
        kind: "APIService",
        metadata: { name: `v1.${group}` },
        spec: {
          group,
          version: "v1",
          groupPriorityMinimum: 1000,
          versionPriority: 15,
          insecureSkipTLSVerify: true,
          service: { namespace: "default", name: uniqueName("nothing-here"), port: 443 },
        },
      },
    });
    try {
      const aggregated = new DiscoveryClient(transport);
      const stale = await waitFor("aggregated discovery to mark the group version stale", async () => {
        const snapshot = await aggregated.refresh();
        return snapshot.unavailable.find((u) => u.group === group);
      });
      assert.deepEqual([stale.version, stale.reason], ["v1", "Stale"]);
      assert.match(stale.message, new RegExp(`${group}/v1`));

      const legacy = await waitFor("legacy discovery to list the group", async () => {
        const snapshot = await fetchDiscovery(transport, { legacy: true });
        return snapshot.unavailable.some((u) => u.group === group) && snapshot;
      });
      const down = legacy.unavailable.find((u) => u.group === group);
      assert.deepEqual([down?.version, down?.reason], ["v1", "ServiceUnavailable"]);
      assert.match(down?.message ?? "", new RegExp(`GET /apis/${group}/v1`));

      for (const result of [await aggregated.snapshot(), legacy]) {
        assert.deepEqual(
          result.groups.find((g) => g.name === group),
          { name: group, versions: [], preferredVersion: undefined },
        );
        assert.ok(find(result, "", "v1", "pods"), "the rest of discovery is intact");
      }
    } finally {
      await transport.json({ method: "DELETE", path });
    }
  });

  it("caches, and concurrent callers share one fetch", async () => {
    const counting = new CountingTransport(config);
    try {
      const client = new DiscoveryClient(counting);
      assert.equal(client.cached, undefined);
      const all = await Promise.all([1, 2, 3, 4, 5].map(() => client.snapshot()));
      assert.ok(all.every((s) => s === all[0]));
      assert.equal(all[0]?.generation, 1);
      assert.equal(counting.paths.length, 2);
      assert.equal(await client.snapshot(), all[0]);
      assert.equal(client.cached, all[0]);
      assert.equal(counting.paths.length, 2, "a cached snapshot costs no request");
    } finally {
      await counting.close();
    }
  });

  it("shares one fetch, queued after the running one, among refreshes asked for meanwhile", async () => {
    const counting = new CountingTransport(config);
    try {
      const client = new DiscoveryClient(counting);
      const first = client.snapshot();
      const refreshes = Promise.all([client.refresh(), client.refresh(), client.refresh()]);
      assert.equal((await first).generation, 1);
      const refreshed = await refreshes;
      assert.ok(refreshed.every((s) => s === refreshed[0]));
      assert.equal(refreshed[0]?.generation, 2);
      assert.ok((refreshed[0]?.fetchedAt ?? 0) > (await first).fetchedAt);
      assert.equal(counting.paths.length, 4);
      assert.equal((await client.refresh()).generation, 3, "a refresh with none running fetches");
      assert.equal(counting.paths.length, 6);
    } finally {
      await counting.close();
    }
  });

  it("fetches anew once a snapshot is older than the TTL, and not before", async () => {
    const kept = new DiscoveryClient(transport, { ttlMs: 60_000 });
    const first = await kept.snapshot();
    assert.equal(await kept.snapshot(), first);
    const expiring = new DiscoveryClient(transport, { ttlMs: 1 });
    const old = await expiring.snapshot();
    const renewed = await waitFor("the snapshot to expire", async () => {
      const s = await expiring.snapshot();
      return s !== old && s;
    });
    assert.equal(renewed.generation, old.generation + 1);
  });

  it("lets one caller stop waiting while the others get the shared result", async () => {
    const counting = new CountingTransport(config);
    try {
      const client = new DiscoveryClient(counting);
      const controller = new AbortController();
      const impatient = client.snapshot({ signal: controller.signal });
      const patient = client.snapshot();
      controller.abort();
      await assert.rejects(impatient, (err) => isAborted(err));
      assert.equal((await patient).generation, 1);
      assert.equal(counting.paths.length, 2);
    } finally {
      await counting.close();
    }
  });

  it("fails the callers of a failed fetch and keeps the last good snapshot", async () => {
    const own = new Transport(config);
    const client = new DiscoveryClient(own);
    const good = await client.snapshot();
    await own.close();
    await assert.rejects(client.refresh(), (err) => isAborted(err));
    assert.equal(client.cached, good);
    assert.equal(await client.snapshot(), good);
  });
});
