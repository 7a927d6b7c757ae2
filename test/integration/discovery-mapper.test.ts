/**
 * The REST mapper against a real kube-apiserver: built-in names, and CRDs as they come, change and go, found through a
 * cache filled before they existed.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/index.js";
import {
  AmbiguousError,
  type ApiResource,
  DiscoveryClient,
  NoMatchError,
  RestMapper,
} from "../../src/discovery/index.js";
import { isNotFound, Transport } from "../../src/http/index.js";
import { attachCluster } from "../../src/testing/index.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd, setCrdVersions } from "../support/crds.js";
import { uniqueName, waitFor } from "../support/wait.js";

const gvr = (r: ApiResource) => `${r.group}/${r.version}/${r.resource}`;

/** Lowercase letters only, so that names built from it read like kubectl's (`mrqzxk`, `MyResourceQzxk`). */
function letters(n: number): string {
  return [...randomBytes(n)].map((b) => String.fromCharCode(97 + (b % 26))).join("");
}

/** A CRD unique to one test: its own group and names, so that tests running at once never collide. */
function uniqueCrd(versions: CrdSpec["versions"]): CrdSpec & { readonly short: string; readonly category: string } {
  const id = letters(6);
  const kind = `MyResource${id[0]?.toUpperCase()}${id.slice(1)}`;
  return {
    group: `${uniqueName("map")}.kindwatch.dev`,
    kind,
    plural: `${kind.toLowerCase()}s`,
    short: `mr${id}`,
    shortNames: [`mr${id}`],
    category: `kw${id}`,
    categories: [`kw${id}`],
    versions,
  };
}

async function noMatch(promise: Promise<unknown>): Promise<NoMatchError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof NoMatchError, String(err));
    return err;
  }
  assert.fail("expected a NoMatchError");
}

describe("REST mapper", () => {
  let transport: Transport;
  /** Sees the server as it is now, to wait on; the mappers under test keep their own caches. */
  let probe: DiscoveryClient;
  const created: CrdSpec[] = [];

  const discovered = (crd: CrdSpec, version: string) =>
    waitFor(`${crd.plural}.${version}.${crd.group} in discovery`, async () =>
      (await probe.refresh()).resources.some((r) => r.group === crd.group && r.version === version),
    );

  before(async () => {
    const cluster = await attachCluster();
    transport = new Transport(loadConfig({ kubeconfig: cluster.kubeconfigPath }));
    probe = new DiscoveryClient(transport);
  });

  // Tests delete what they made as they go; this catches what a failed test left behind.
  after(async () => {
    for (const crd of created) await deleteCrd(transport, crd);
    await transport.close();
  });

  it("resolves the built-in names kubectl users type", async () => {
    const mapper = new RestMapper(new DiscoveryClient(transport));
    const cases: [string, string, boolean][] = [
      ["po", "/v1/pods", true],
      ["pods", "/v1/pods", true],
      ["pod", "/v1/pods", true],
      ["Pod", "/v1/pods", true],
      ["deploy", "apps/v1/deployments", true],
      ["deployments.apps", "apps/v1/deployments", true],
      ["Deployment.v1.apps", "apps/v1/deployments", true],
      ["cm", "/v1/configmaps", true],
      ["configmaps", "/v1/configmaps", true],
      ["ns", "/v1/namespaces", false],
      ["events", "/v1/events", true],
      ["hpa", "autoscaling/v2/horizontalpodautoscalers", true],
      ["crd", "apiextensions.k8s.io/v1/customresourcedefinitions", false],
      ["clusterroles", "rbac.authorization.k8s.io/v1/clusterroles", false],
    ];
    for (const [text, expected, namespaced] of cases) {
      const r = await mapper.resolveResource(text);
      assert.equal(gvr(r), expected, text);
      assert.equal(r.namespaced, namespaced, text);
    }
    const all = await mapper.resolve("all");
    assert.equal(all.category, "all");
    for (const name of ["/v1/pods", "/v1/services", "apps/v1/deployments", "batch/v1/jobs"]) {
      assert.ok(all.resources.map(gvr).includes(name), name);
    }
    assert.equal((await mapper.kindFor({ group: "apps", resource: "deployments" })).kind, "Deployment");
    assert.equal((await mapper.resourceFor({ group: "", version: "v1", kind: "ConfigMap" })).resource, "configmaps");
    assert.equal(await mapper.preferredVersion("autoscaling"), "v2");
  });

  it("finds a CRD created after its cache was filled, refreshing once, by every spelling", async () => {
    const crd = uniqueCrd([
      { name: "v1", storage: true, subresources: true },
      { name: "v2", subresources: true },
      // Not served: it must not be discovered, though it would be preferred if it were.
      { name: "v3", served: false, subresources: true },
    ]);
    const discovery = new DiscoveryClient(transport);
    const mapper = new RestMapper(discovery);
    await mapper.resolveResource("po");
    const before = discovery.cached?.generation ?? 0;

    created.push(crd);
    await createCrd(transport, crd);
    await discovered(crd, "v2");
    await discovered(crd, "v1");

    const found = await mapper.resolveResource(crd.short);
    assert.equal(discovery.cached?.generation, before + 1, "one refresh for the miss");
    // Preferred is the highest served version by Kubernetes' version order, not the storage version.
    assert.equal(gvr(found), `${crd.group}/v2/${crd.plural}`);
    assert.deepEqual(
      [found.kind, found.singular, found.namespaced, found.preferred, found.shortNames, found.categories],
      [crd.kind, crd.kind.toLowerCase(), true, true, [crd.short], [crd.category]],
    );
    assert.deepEqual(
      found.subresources.map((s) => `${s.name}:${s.group}/${s.version}/${s.kind}`),
      ["scale:autoscaling/v1/Scale", `status:${crd.group}/v2/${crd.kind}`],
    );
    for (const verb of ["create", "delete", "get", "list", "patch", "update", "watch"]) {
      assert.ok(found.verbs.includes(verb), verb);
    }

    const singular = crd.kind.toLowerCase();
    const spellings: [string, string][] = [
      [crd.short, "v2"],
      [crd.plural, "v2"],
      [singular, "v2"],
      [crd.kind, "v2"],
      [`${singular}.${crd.group}`, "v2"],
      [`${crd.plural}.${crd.group}`, "v2"],
      [`${crd.kind}.${crd.group}`, "v2"],
      [`${crd.plural}.v1.${crd.group}`, "v1"],
      [`${crd.kind}.v1.${crd.group}`, "v1"],
      [`${crd.short}.v1.${crd.group}`, "v1"],
      [`${crd.plural}.v2.${crd.group}`, "v2"],
    ];
    for (const [text, version] of spellings) {
      assert.equal(gvr(await mapper.resolveResource(text)), `${crd.group}/${version}/${crd.plural}`, text);
    }
    assert.deepEqual((await mapper.resolve(crd.category)).resources.map(gvr), [`${crd.group}/v2/${crd.plural}`]);
    assert.equal((await mapper.resourceFor({ group: crd.group, version: "v1", kind: crd.kind })).preferred, false);
    assert.equal(discovery.cached?.generation, before + 1, "names that resolve cost no further fetch");

    const unserved = await noMatch(mapper.resolveResource(`${crd.plural}.v3.${crd.group}`));
    assert.equal(discovery.cached?.generation, before + 2, "a miss refreshes once");
    assert.ok(isNotFound(unserved));
    assert.ok(unserved.suggestions.includes(`${crd.plural}.v2.${crd.group}`), unserved.suggestions.join(", "));
    const typo = await noMatch(mapper.resolveResource(crd.plural.slice(0, -2)));
    assert.equal(discovery.cached?.generation, before + 3);
    assert.ok(typo.suggestions.includes(crd.plural), typo.suggestions.join(", "));
  });

  it("bounds the refreshes that misses cause: concurrent ones share, a loop is spaced out", async () => {
    const unknown = `nothing${letters(8)}`;
    const together = new DiscoveryClient(transport);
    // An interval long enough that a miss waiting for it could not go unnoticed.
    const patient = new RestMapper(together, { missRefreshIntervalMs: 60_000 });
    await together.snapshot();
    const started = performance.now();
    await Promise.all([1, 2, 3, 4, 5, 6].map(() => noMatch(patient.resolveResource(unknown))));
    assert.equal(together.cached?.generation, 2, "one refresh for misses at once");
    assert.ok(performance.now() - started < 30_000, "none of them waited for the interval");

    const looped = new DiscoveryClient(transport);
    const mapper = new RestMapper(looped, { missRefreshIntervalMs: 100 });
    await looped.snapshot();
    const loopStarted = performance.now();
    for (let i = 0; i < 4; i++) await noMatch(mapper.resolveResource(unknown));
    assert.equal(looped.cached?.generation, 5, "each miss refreshed once");
    assert.ok(performance.now() - loopStarted >= 300, "misses in a loop refresh at most once per interval");
  });

  it("maps a kind asked for by a program through the same refresh on a miss", async () => {
    const crd = uniqueCrd([{ name: "v1", storage: true }]);
    const discovery = new DiscoveryClient(transport);
    const mapper = new RestMapper(discovery);
    await discovery.snapshot();
    created.push(crd);
    await createCrd(transport, crd);
    await discovered(crd, "v1");
    const mapping = await mapper.resourceFor({ group: crd.group, kind: crd.kind });
    assert.equal(gvr(mapping), `${crd.group}/v1/${crd.plural}`);
    assert.equal(discovery.cached?.generation, 2);
    assert.equal((await mapper.kindFor({ group: crd.group, resource: crd.plural })).kind, crd.kind);
  });

  it("forgets a deleted CRD after a refresh", async () => {
    const crd = uniqueCrd([{ name: "v1", storage: true }]);
    created.push(crd);
    await createCrd(transport, crd);
    await discovered(crd, "v1");
    const discovery = new DiscoveryClient(transport);
    const mapper = new RestMapper(discovery);
    assert.equal(gvr(await mapper.resolveResource(crd.short)), `${crd.group}/v1/${crd.plural}`);

    await deleteCrd(transport, crd);
    await waitFor("the CRD to leave discovery", async () =>
      (await probe.refresh()).resources.every((r) => r.group !== crd.group),
    );
    // The cached snapshot still has it: a cache is a cache until refreshed.
    assert.ok(discovery.cached?.resources.some((r) => r.group === crd.group));
    const refreshed = await discovery.refresh();
    assert.ok(refreshed.resources.every((r) => r.group !== crd.group));
    assert.ok(refreshed.groups.every((g) => g.name !== crd.group));
    const gone = await noMatch(mapper.resolveResource(`${crd.plural}.${crd.group}`));
    assert.match(gone.message, /the server has no resource type/);
  });

  it("moves to a new preferred version after a refresh", async () => {
    const crd = uniqueCrd([{ name: "v1", storage: true }]);
    created.push(crd);
    await createCrd(transport, crd);
    await discovered(crd, "v1");
    const discovery = new DiscoveryClient(transport);
    const mapper = new RestMapper(discovery);
    assert.equal((await mapper.resolveResource(crd.plural)).version, "v1");
    assert.equal(await mapper.preferredVersion(crd.group), "v1");

    await setCrdVersions(transport, crd, [{ name: "v1", storage: true }, { name: "v2" }]);
    await discovered(crd, "v2");
    // A version asked for by name that the cache lacks refreshes it.
    assert.equal((await mapper.kindFor({ group: crd.group, version: "v2", resource: crd.plural })).preferred, true);
    assert.equal(await mapper.preferredVersion(crd.group), "v2");
    const now = await mapper.resolveResource(crd.plural);
    assert.deepEqual([now.version, now.preferred], ["v2", true]);
    const old = await mapper.resolveResource(`${crd.plural}.v1.${crd.group}`);
    assert.deepEqual([old.version, old.preferred], ["v1", false]);
    assert.deepEqual(
      discovery.cached?.groups.find((g) => g.name === crd.group),
      { name: crd.group, versions: ["v2", "v1"], preferredVersion: "v2" },
    );
  });

  it("prefers a built-in resource to a CRD that reuses its name, and refuses to guess between two CRDs", async () => {
    const id = letters(6);
    const shadow: CrdSpec = {
      group: `${uniqueName("shadow")}.kindwatch.dev`,
      kind: "ConfigMap",
      plural: "configmaps",
      shortNames: ["cm", `sh${id}`],
      versions: [{ name: "v1", storage: true }],
    };
    const twins = [uniqueName("twin-a"), uniqueName("twin-b")].map(
      (g): CrdSpec => ({
        group: `${g}.kindwatch.dev`,
        kind: `Twin${id}`,
        plural: `twin${id}s`,
        shortNames: [`tw${id}`],
        versions: [{ name: "v1", storage: true }],
      }),
    );
    for (const crd of [shadow, ...twins]) {
      created.push(crd);
      await createCrd(transport, crd);
      await discovered(crd, "v1");
    }
    const mapper = new RestMapper(new DiscoveryClient(transport));
    assert.equal(gvr(await mapper.resolveResource("cm")), "/v1/configmaps");
    assert.equal(gvr(await mapper.resolveResource("configmaps")), "/v1/configmaps");
    assert.equal(gvr(await mapper.resolveResource(`configmaps.${shadow.group}`)), `${shadow.group}/v1/configmaps`);
    assert.equal(gvr(await mapper.resolveResource(`sh${id}`)), `${shadow.group}/v1/configmaps`);
    for (const text of [`twin${id}s`, `tw${id}`, `Twin${id}`]) {
      await assert.rejects(mapper.resolveResource(text), (err: unknown) => {
        assert.ok(err instanceof AmbiguousError, String(err));
        assert.deepEqual(err.matches.map((r) => r.group).sort(), twins.map((t) => t.group).sort());
        return true;
      });
    }
    const [first] = twins;
    assert.equal(gvr(await mapper.resolveResource(`tw${id}.${first?.group}`)), `${first?.group}/v1/twin${id}s`);
    // A CRD that reuses a built-in short name makes kubectl warn in every test running meanwhile: not for long.
    for (const crd of [shadow, ...twins]) await deleteCrd(transport, crd);
  });
});
