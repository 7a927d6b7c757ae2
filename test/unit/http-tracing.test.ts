/** How an API path names a call's span: low-cardinality targets and templates, the object in attributes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { describePath } from "../../src/http/tracing.js";

describe("describePath", () => {
  it("names resources by plural and group, with the namespace, object and subresource as attributes", () => {
    assert.deepEqual(describePath("/api/v1/namespaces/shop/configmaps/cart"), {
      target: "configmaps",
      template: "/api/{version}/namespaces/{namespace}/configmaps/{name}",
      attributes: {
        "url.template": "/api/{version}/namespaces/{namespace}/configmaps/{name}",
        "k8s.resource": "configmaps",
        "k8s.resource.group": "",
        "k8s.resource.version": "v1",
        "k8s.namespace.name": "shop",
        "k8s.object.name": "cart",
      },
    });
    const status = describePath("/apis/apps/v1/namespaces/shop/deployments/web/status");
    assert.equal(status.target, "deployments.apps/status");
    assert.equal(status.template, "/apis/{group}/{version}/namespaces/{namespace}/deployments/{name}/status");
    assert.equal(status.attributes["k8s.subresource"], "status");
    assert.equal(describePath("/apis/example.com/v1/widgets").target, "widgets.example.com");
    assert.equal(describePath("/apis/example.com/v1/widgets").attributes["k8s.object.name"], undefined);
  });

  it("tells a namespace's own subresources from the resources in it, as the API server does", () => {
    const finalize = describePath("/api/v1/namespaces/shop/finalize");
    assert.equal(finalize.target, "namespaces/finalize");
    assert.equal(finalize.attributes["k8s.object.name"], "shop");
    assert.equal(finalize.attributes["k8s.subresource"], "finalize");
    const one = describePath("/api/v1/namespaces/shop");
    assert.equal(one.target, "namespaces");
    assert.equal(one.template, "/api/{version}/namespaces/{name}");
    assert.equal(describePath("/api/v1/namespaces").target, "namespaces");
  });

  it("templates discovery and OpenAPI paths and keeps the few other endpoints as they are", () => {
    assert.equal(describePath("/api").target, "/api");
    assert.equal(describePath("/api/v1").target, "/api/{version}");
    assert.equal(describePath("/apis").target, "/apis");
    assert.equal(describePath("/apis/apps").target, "/apis/{group}");
    assert.equal(describePath("/apis/apps/v1").target, "/apis/{group}/{version}");
    assert.equal(describePath("/apis/apps/v1").attributes["k8s.resource.group"], "apps");
    assert.equal(describePath("/openapi/v3/apis/apps/v1").target, "/openapi/v3/{path}");
    assert.equal(describePath("/readyz").target, "/readyz");
  });
});
