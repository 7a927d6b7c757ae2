/** Resolving names as kubectl does, ambiguity and "did you mean", on discovery captured from kube-apiserver 1.35. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  AmbiguousError,
  type ApiResource,
  isBuiltinGroup,
  NoMatchError,
  parseAggregatedDiscovery,
  qualifiedName,
  SnapshotMapper,
} from "../../src/discovery/index.js";
import { isNotFound } from "../../src/http/errors.js";
import { discoveryFixture } from "../support/discovery-fixture.js";

const fixture = discoveryFixture();
const mapper = new SnapshotMapper(parseAggregatedDiscovery(fixture.aggregated.api, fixture.aggregated.apis));

const gvr = (r: ApiResource) => `${r.group}/${r.version}/${r.resource}`;

function noMatch(fn: () => unknown): NoMatchError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof NoMatchError, String(err));
    return err;
  }
  assert.fail("expected a NoMatchError");
}

function ambiguous(fn: () => unknown): AmbiguousError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AmbiguousError, String(err));
    return err;
  }
  assert.fail("expected an AmbiguousError");
}

describe("resolving what a user types", () => {
  const spellings: [string, string][] = [
    ["mr", "fixture.example.com/v2/myresources"],
    ["myresources", "fixture.example.com/v2/myresources"],
    ["myresource", "fixture.example.com/v2/myresources"],
    ["MyResource", "fixture.example.com/v2/myresources"],
    ["MYRESOURCES", "fixture.example.com/v2/myresources"],
    ["myresource.fixture.example.com", "fixture.example.com/v2/myresources"],
    ["myresources.fixture.example.com", "fixture.example.com/v2/myresources"],
    ["mr.fixture.example.com", "fixture.example.com/v2/myresources"],
    ["mr.fixture", "fixture.example.com/v2/myresources"],
    ["MR", "fixture.example.com/v2/myresources"],
    ["Mr.Fixture", "fixture.example.com/v2/myresources"],
    ["MR.V1.FIXTURE.EXAMPLE.COM", "fixture.example.com/v1/myresources"],
    ["MyResource.fixture.example.com", "fixture.example.com/v2/myresources"],
    ["myresources.v1.fixture.example.com", "fixture.example.com/v1/myresources"],
    ["MyResource.v1.fixture.example.com", "fixture.example.com/v1/myresources"],
    ["mr.v1.fixture.example.com", "fixture.example.com/v1/myresources"],
    ["myresources.v2.fixture.example.com", "fixture.example.com/v2/myresources"],
    ["  clusterthing  ", "fixture.example.com/v1/clusterthings"],
    ["sprockets", "alpha.example.com/v1beta1/sprockets"],
  ];
  for (const [text, expected] of spellings) {
    it(`"${text}" is ${expected}`, () => assert.equal(gvr(mapper.resolveResource(text)), expected));
  }

  const builtins: [string, string][] = [
    ["po", "/v1/pods"],
    ["PO", "/v1/pods"],
    ["Po", "/v1/pods"],
    ["CM", "/v1/configmaps"],
    ["SVC", "/v1/services"],
    ["DEPLOY", "apps/v1/deployments"],
    ["Deploy.Apps", "apps/v1/deployments"],
    ["HPA.Autoscal", "autoscaling/v2/horizontalpodautoscalers"],
    ["pods", "/v1/pods"],
    ["Pod", "/v1/pods"],
    ["cm", "/v1/configmaps"],
    ["svc", "/v1/services"],
    ["ns", "/v1/namespaces"],
    ["deploy", "apps/v1/deployments"],
    ["deployments", "apps/v1/deployments"],
    ["Deployment", "apps/v1/deployments"],
    ["deployments.apps", "apps/v1/deployments"],
    ["deploy.apps", "apps/v1/deployments"],
    ["deployment.v1.apps", "apps/v1/deployments"],
    ["Deployment.v1.apps", "apps/v1/deployments"],
    ["hpa", "autoscaling/v2/horizontalpodautoscalers"],
    ["hpa.autoscaling", "autoscaling/v2/horizontalpodautoscalers"],
    ["horizontalpodautoscalers.v1.autoscaling", "autoscaling/v1/horizontalpodautoscalers"],
    ["hpa.autoscal", "autoscaling/v2/horizontalpodautoscalers"],
    ["events", "/v1/events"],
    ["ev", "/v1/events"],
    ["events.events.k8s.io", "events.k8s.io/v1/events"],
    ["crd", "apiextensions.k8s.io/v1/customresourcedefinitions"],
  ];
  for (const [text, expected] of builtins) {
    it(`"${text}" is the built-in ${expected}, even where a CRD uses the same name`, () =>
      assert.equal(gvr(mapper.resolveResource(text)), expected));
  }

  it("reaches a CRD that shadows a built-in name through its group", () => {
    assert.equal(gvr(mapper.resolveResource("deployments.shadow.example.com")), "shadow.example.com/v1/deployments");
    assert.equal(gvr(mapper.resolveResource("po.shadow.example.com")), "shadow.example.com/v1/deployments");
    assert.equal(gvr(mapper.resolveResource("PO.Shadow.Example.Com")), "shadow.example.com/v1/deployments");
    assert.equal(gvr(mapper.resolveResource("Event.shadow.example.com")), "shadow.example.com/v1/events");
  });

  it("refuses a name that two custom groups serve, listing both", () => {
    for (const text of ["widgets", "widget", "Widget", "gd", "GD"]) {
      const err = ambiguous(() => mapper.resolveResource(text));
      assert.deepEqual(err.matches.map(qualifiedName), ["widgets.alpha.example.com", "widgets.beta.example.com"]);
      assert.equal(err.kind, "BadRequest");
      assert.match(err.message, /widgets\.alpha\.example\.com, widgets\.beta\.example\.com: name one with its group/);
    }
    assert.equal(gvr(mapper.resolveResource("widgets.beta.example.com")), "beta.example.com/v1/widgets");
    assert.equal(gvr(mapper.resolveResource("gd.beta")), "beta.example.com/v1/widgets");
  });

  it("expands categories to their resources at their preferred versions, before resource names", () => {
    const all = mapper.resolve("all");
    assert.equal(all.category, "all");
    assert.deepEqual(all.resources.map(gvr), [
      "/v1/pods",
      "/v1/replicationcontrollers",
      "/v1/services",
      "apps/v1/daemonsets",
      "apps/v1/deployments",
      "apps/v1/replicasets",
      "apps/v1/statefulsets",
      "autoscaling/v2/horizontalpodautoscalers",
      "batch/v1/cronjobs",
      "batch/v1/jobs",
      "fixture.example.com/v1/clusterthings",
    ]);
    // In kubectl's order too: by group, then version preference.
    assert.deepEqual(mapper.resolve("fixture-things").resources.map(gvr), [
      "fixture.example.com/v2/myresources",
      "fixture.example.com/v1/clusterthings",
    ]);
    const one = mapper.resolve("deploy");
    assert.equal(one.category, undefined);
    assert.deepEqual(one.resources.map(gvr), ["apps/v1/deployments"]);
  });
});

describe("unknown names", () => {
  it("fail as NotFound with the closest names that resolve", () => {
    const err = noMatch(() => mapper.resolveResource("deploymnets"));
    assert.ok(isNotFound(err));
    assert.equal(err.input, "deploymnets");
    assert.equal(err.suggestions[0], "deployments");
    assert.match(err.message, /^the server has no resource type "deploymnets"; did you mean "deployments"/);
  });

  it("suggest with the group where the name alone is ambiguous, or was typed with one", () => {
    assert.deepEqual(noMatch(() => mapper.resolveResource("widgts")).suggestions.slice(0, 2), [
      "widgets.alpha.example.com",
      "widgets.beta.example.com",
    ]);
    assert.equal(
      noMatch(() => mapper.resolveResource("myresorces.fixture.example.com")).suggestions[0],
      "myresources.fixture.example.com",
    );
    assert.equal(noMatch(() => mapper.resolveResource("deployments.app")).suggestions[0], "deployments.apps");
    assert.equal(
      noMatch(() => mapper.resolveResource("myresources.v3.fixture.example.com")).suggestions.length > 0,
      true,
    );
  });

  it("suggest categories and names that begin with what was typed", () => {
    assert.ok(noMatch(() => mapper.resolve("al")).suggestions.includes("all"));
    assert.deepEqual(noMatch(() => mapper.resolve("myres")).suggestions, ["myresources", "myresource"]);
  });

  it("say where to look when nothing is close", () => {
    const err = noMatch(() => mapper.resolveResource("xyzzyplugh"));
    assert.deepEqual(err.suggestions, []);
    assert.match(err.message, /kubectl api-resources/);
    noMatch(() => mapper.resolveResource("   "));
  });
});

describe("kinds and resources", () => {
  it("maps a resource to its kind at the preferred version or the one asked for", () => {
    const hpa = mapper.kindFor({ group: "autoscaling", resource: "horizontalpodautoscalers" });
    assert.deepEqual([hpa.version, hpa.kind, hpa.namespaced], ["v2", "HorizontalPodAutoscaler", true]);
    assert.equal(
      mapper.kindFor({ group: "autoscaling", version: "v1", resource: "horizontalpodautoscalers" }).version,
      "v1",
    );
    assert.equal(mapper.kindFor({ group: "", version: "v1", resource: "pod" }).resource, "pods");
    assert.equal(mapper.kindFor({ group: "alpha.example.com", resource: "sprockets" }).version, "v1beta1");
  });

  it("maps a kind to its resource", () => {
    const mr = mapper.resourceFor({ group: "fixture.example.com", kind: "MyResource" });
    assert.deepEqual([mr.version, mr.resource, mr.preferred], ["v2", "myresources", true]);
    assert.equal(mapper.resourceFor({ group: "fixture.example.com", version: "v1", kind: "MyResource" }).version, "v1");
    assert.equal(mapper.resourceFor({ group: "", kind: "Event" }).resource, "events");
    assert.equal(mapper.resourceFor({ group: "", kind: "Namespace" }).namespaced, false);
  });

  it("names the versions that do serve a resource or kind asked for at another", () => {
    const err = noMatch(() => mapper.kindFor({ group: "apps", version: "v1beta1", resource: "deployments" }));
    assert.equal(err.input, "deployments.v1beta1.apps");
    assert.deepEqual(err.suggestions, ["deployments.v1.apps"]);
    const kindErr = noMatch(() => mapper.resourceFor({ group: "apps", version: "v2", kind: "Deployment" }));
    assert.deepEqual(kindErr.suggestions, ["Deployment.v1.apps"]);
    assert.deepEqual(noMatch(() => mapper.resourceFor({ group: "apps", kind: "Deploymnet" })).suggestions, [
      "Deployment.apps",
    ]);
    // Kinds are exact for programs: kubectl's lenience is for what users type.
    noMatch(() => mapper.resourceFor({ group: "apps", kind: "deployment" }));
  });

  it("knows each group's preferred version", () => {
    assert.equal(mapper.preferredVersion("autoscaling"), "v2");
    assert.equal(mapper.preferredVersion(""), "v1");
    assert.equal(noMatch(() => mapper.preferredVersion("autoscalin")).suggestions[0], "autoscaling");
    noMatch(() => mapper.preferredVersion("broken.example.com"));
  });

  it("tells built-in groups from custom ones", () => {
    for (const g of ["", "apps", "batch", "events.k8s.io", "flowcontrol.apiserver.k8s.io", "x.kubernetes.io"]) {
      assert.ok(isBuiltinGroup(g), g);
    }
    for (const g of ["example.com", "k8s.io.example.com", "cert-manager.io"]) assert.ok(!isBuiltinGroup(g), g);
  });

  it("lists one entry per resource at its preferred version, as kubectl api-resources does", () => {
    const hpas = mapper.preferredResources.filter((r) => r.resource === "horizontalpodautoscalers");
    assert.deepEqual(hpas.map(gvr), ["autoscaling/v2/horizontalpodautoscalers"]);
    assert.equal(mapper.preferredResources.filter((r) => r.resource === "myresources").length, 1);
  });
});
