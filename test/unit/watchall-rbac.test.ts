/** The rules of `watchAllRules` for selections and discovery protocols the integration test's server does not show. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ApiResource, DiscoveryResult } from "../../src/discovery/types.js";
import { watchAllRules } from "../../src/watchall/rbac.js";

function res(group: string, kind: string, extra: Partial<ApiResource> = {}): ApiResource {
  return {
    group,
    version: "v1",
    resource: `${kind.toLowerCase()}s`,
    kind,
    singular: kind.toLowerCase(),
    namespaced: true,
    verbs: ["get", "list", "watch"],
    shortNames: [],
    categories: [],
    subresources: [],
    preferred: true,
    ...extra,
  };
}

function discovery(source: DiscoveryResult["source"], resources: ApiResource[]): DiscoveryResult {
  return { groups: [], resources, unavailable: [], source };
}

const widget = res("example.com", "Widget");
const gadget = res("example.com", "Gadget");
const crds = res("apiextensions.k8s.io", "CustomResourceDefinition", { namespaced: false });
const secret = res("", "Secret");
const binding = res("", "Binding", { verbs: ["create"] });
const engine = [
  { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["list", "watch"] },
  { apiGroups: ["apiregistration.k8s.io"], resources: ["apiservices"], verbs: ["list", "watch"] },
  { apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews"], verbs: ["create"] },
];

describe("watchAllRules", () => {
  it("reads every group version's discovery URL where the server serves no aggregated discovery", () => {
    const { cluster } = watchAllRules(discovery("legacy", [widget]), {});
    assert.deepEqual(cluster.at(-1), { nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*"], verbs: ["get"] });
  });

  it("custom kinds by default; built-in ones with allResources, those that can be watched only, merged per group", () => {
    const all = [secret, binding, crds, widget, gadget];
    assert.deepEqual(watchAllRules(discovery("aggregated", all), {}).cluster, [
      ...engine,
      { apiGroups: ["example.com"], resources: ["gadgets", "widgets"], verbs: ["list", "watch"] },
      { nonResourceURLs: ["/api", "/apis"], verbs: ["get"] },
    ]);
    assert.deepEqual(watchAllRules(discovery("aggregated", all), { allResources: true }).cluster.slice(0, 2), [
      { apiGroups: [""], resources: ["secrets"], verbs: ["list", "watch"] },
      engine[0],
    ]);
  });

  it("no access reviews, no right to create them", () => {
    const { cluster } = watchAllRules(discovery("aggregated", [widget]), { accessReview: false });
    assert.ok(!cluster.some((r) => r.resources?.includes("selfsubjectaccessreviews")));
  });

  it("a group as a whole is `*` of it, but a group less some kinds names the others", () => {
    const d = discovery("aggregated", [widget, gadget]);
    const whole = watchAllRules(d, { include: { groups: ["example.com"] } }).cluster;
    assert.deepEqual(
      whole.find((r) => r.apiGroups?.includes("example.com")),
      { apiGroups: ["example.com"], resources: ["*"], verbs: ["list", "watch"] },
    );
    const less = watchAllRules(d, { include: { groups: ["example.com"] }, exclude: { kinds: ["Gadget"] } }).cluster;
    assert.deepEqual(
      less.find((r) => r.apiGroups?.includes("example.com")),
      { apiGroups: ["example.com"], resources: ["widgets"], verbs: ["list", "watch"] },
    );
  });

  it("one namespace: its kinds in a Role there; several: cluster-wide", () => {
    const d = discovery("aggregated", [widget, res("example.com", "Node", { namespaced: false })]);
    const one = watchAllRules(d, { include: { namespaces: ["a"] } });
    assert.deepEqual(one.namespace, {
      name: "a",
      rules: [{ apiGroups: ["example.com"], resources: ["widgets"], verbs: ["list", "watch"] }],
    });
    assert.ok(!one.cluster.some((r) => r.apiGroups?.includes("example.com")));
    const two = watchAllRules(d, { include: { namespaces: ["a", "b"] } });
    assert.equal(two.namespace, undefined);
    assert.ok(two.cluster.some((r) => r.apiGroups?.includes("example.com") && r.resources?.includes("widgets")));
    assert.ok(!two.cluster.some((r) => r.resources?.includes("nodes")), "cluster-scoped kinds are left out");
  });
});
