/** Reading discovery documents captured from a real kube-apiserver 1.35: both protocols, one result. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type ApiResource, parseAggregatedDiscovery } from "../../src/discovery/index.js";
import { legacyGroupVersions, parseResourceList } from "../../src/discovery/legacy.js";
import { assemble, type GroupDraft } from "../../src/discovery/result.js";
import { discoveryFixture } from "../support/discovery-fixture.js";

const fixture = discoveryFixture();
const result = parseAggregatedDiscovery(fixture.aggregated.api, fixture.aggregated.apis);

function find(group: string, version: string, resource: string): ApiResource {
  const found = result.resources.find((r) => r.group === group && r.version === version && r.resource === resource);
  assert.ok(found, `${resource} in ${group}/${version}`);
  return found;
}

describe("aggregated discovery documents", () => {
  it("list the core group first, then the others in the server's order", () => {
    const names = result.groups.map((g) => g.name);
    assert.equal(names[0], "");
    assert.deepEqual(names.slice(1, 3), ["apiregistration.k8s.io", "apps"]);
    assert.ok(names.includes("fixture.example.com"));
    assert.equal(result.source, "aggregated");
  });

  it("describe a built-in resource fully", () => {
    const pods = find("", "v1", "pods");
    assert.equal(pods.kind, "Pod");
    assert.equal(pods.singular, "pod");
    assert.equal(pods.namespaced, true);
    assert.equal(pods.preferred, true);
    assert.deepEqual(pods.shortNames, ["po"]);
    assert.deepEqual(pods.categories, ["all"]);
    assert.deepEqual([...pods.verbs].sort(), [
      "create",
      "delete",
      "deletecollection",
      "get",
      "list",
      "patch",
      "update",
      "watch",
    ]);
    const subresources = pods.subresources.map((s) => s.name);
    for (const s of ["binding", "eviction", "exec", "log", "status"]) assert.ok(subresources.includes(s), s);
    assert.deepEqual(subresources, [...subresources].sort());
    assert.equal(find("", "v1", "namespaces").namespaced, false);
  });

  it("give a scale subresource its own kind and group", () => {
    const scale = find("apps", "v1", "deployments").subresources.find((s) => s.name === "scale");
    assert.deepEqual(scale, {
      name: "scale",
      group: "autoscaling",
      version: "v1",
      kind: "Scale",
      verbs: ["get", "patch", "update"],
    });
    const status = find("apps", "v1", "deployments").subresources.find((s) => s.name === "status");
    assert.deepEqual(status && { group: status.group, version: status.version, kind: status.kind }, {
      group: "apps",
      version: "v1",
      kind: "Deployment",
    });
  });

  it("mark the preferred version of each group", () => {
    assert.equal(find("autoscaling", "v2", "horizontalpodautoscalers").preferred, true);
    assert.equal(find("autoscaling", "v1", "horizontalpodautoscalers").preferred, false);
    const fixtureGroup = result.groups.find((g) => g.name === "fixture.example.com");
    assert.deepEqual(fixtureGroup, { name: "fixture.example.com", versions: ["v2", "v1"], preferredVersion: "v2" });
    const v2 = find("fixture.example.com", "v2", "myresources");
    assert.equal(v2.preferred, true);
    assert.equal(find("fixture.example.com", "v1", "myresources").preferred, false);
    assert.deepEqual(v2.shortNames, ["mr"]);
    assert.deepEqual(v2.categories, ["fixture-things"]);
    assert.deepEqual(
      v2.subresources.map((s) => `${s.name}:${s.group}/${s.version}/${s.kind}`),
      ["scale:autoscaling/v1/Scale", "status:fixture.example.com/v2/MyResource"],
    );
    // Only in the group's non-preferred versions: still served, at the best version that has it.
    const alpha = result.groups.find((g) => g.name === "alpha.example.com");
    assert.deepEqual(alpha?.versions, ["v1", "v1beta1", "v1alpha1"]);
    assert.equal(find("alpha.example.com", "v1beta1", "sprockets").preferred, false);
  });

  it("report a stale group version without its resources and without failing", () => {
    assert.deepEqual(
      result.unavailable.map((u) => [u.group, u.version, u.reason]),
      [["broken.example.com", "v1", "Stale"]],
    );
    assert.deepEqual(
      result.groups.find((g) => g.name === "broken.example.com"),
      {
        name: "broken.example.com",
        versions: [],
        preferredVersion: undefined,
      },
    );
    assert.equal(result.resources.filter((r) => r.group === "broken.example.com").length, 0);
  });
});

describe("legacy discovery documents", () => {
  it("assemble into the same groups and resources as the aggregated ones", () => {
    const drafts: GroupDraft[] = legacyGroupVersions(fixture.legacy["/api"], fixture.legacy["/apis"]).map((g) => ({
      name: g.name,
      versions: g.versions.map((version) => {
        const path = g.name ? `/apis/${g.name}/${version}` : `/api/${version}`;
        const doc = fixture.legacy[path] as { error?: { kind: "ServiceUnavailable"; message: string } };
        return doc.error
          ? { version, unavailable: { reason: doc.error.kind, message: doc.error.message } }
          : { version, resources: parseResourceList(g.name, version, doc) };
      }),
    }));
    const legacy = assemble(drafts, "legacy");
    assert.deepEqual(legacy.groups, result.groups);
    assert.deepEqual(legacy.resources, result.resources);
    assert.deepEqual(
      legacy.unavailable.map((u) => [u.group, u.version, u.reason]),
      [["broken.example.com", "v1", "ServiceUnavailable"]],
    );
  });

  it("fold `parent/sub` entries into their parent and guess a missing singular name", () => {
    const [binding, pods] = parseResourceList("", "v1", {
      resources: [
        { name: "bindings", singularName: "", namespaced: true, kind: "Binding", verbs: ["create"] },
        { name: "pods", singularName: "pod", namespaced: true, kind: "Pod", verbs: ["get"] },
        { name: "pods/status", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] },
        { name: "pods/scale", namespaced: true, group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get"] },
      ],
    });
    assert.equal(binding?.singular, "binding");
    assert.deepEqual(pods?.subresources, [
      { name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get"] },
      { name: "status", group: "", version: "v1", kind: "Pod", verbs: ["get"] },
    ]);
  });

  it("put a group's preferred version first", () => {
    const groups = legacyGroupVersions(
      { versions: ["v1"] },
      {
        groups: [
          {
            name: "example.com",
            versions: [{ version: "v1" }, { version: "v2" }],
            preferredVersion: { version: "v2" },
          },
        ],
      },
    );
    assert.deepEqual(groups, [
      { name: "", versions: ["v1"] },
      { name: "example.com", versions: ["v2", "v1"] },
    ]);
  });
});
