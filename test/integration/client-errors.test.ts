/** The dynamic client's errors say where they happened and what to do instead, on a real server. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ApiError } from "../../src/http/index.js";
import { type Client, type ClientEnv, clientEnv, createWidgetCrd, type WidgetKind, widget } from "../support/client.js";
import { failure } from "../support/failure.js";

describe("dynamic client: error messages", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let widgets: Client;

  before(async () => {
    env = await clientEnv("client-errors");
    kind = await createWidgetCrd(env.client);
    widgets = env.client.resource(kind.gvr).namespace(env.namespace);
  });

  after(async () => {
    await kind?.remove();
    await env?.close();
  });

  it("names the request path in a NotFound", async () => {
    const path = `/apis/${kind.group}/v1/namespaces/${env.namespace}/widgets/x`;
    const get = await failure(widgets.get("x"));
    assert.equal(get.kind, "NotFound");
    assert.equal(get.message, `widgets.${kind.group} "x" not found (GET ${path})`);
    const del = await failure(widgets.delete("x"));
    assert.equal(del.message, `widgets.${kind.group} "x" not found (DELETE ${path})`);
    const nodes = env.client.resource({ group: "", version: "v1", resource: "nodes" }).namespace(env.namespace);
    const route = await failure(nodes.get("x"));
    assert.equal(route.kind, "NotFound");
    assert.equal(
      route.message,
      `the server could not find the requested resource (GET /api/v1/namespaces/${env.namespace}/nodes/x)`,
    );
  });

  it("suggests a merge patch or apply when a strategic merge patch meets a custom resource", async () => {
    await widgets.create(widget(kind, "patched", { size: 1 }));
    const err = await failure(widgets.patch("patched", { spec: { size: 2 } }, "strategic"));
    assert.equal(err.kind, "UnsupportedMediaType");
    assert.equal(err.status, 415);
    assert.match(err.message, /^the body of the request was in an unknown format - accepted media types include: /);
    assert.match(
      err.message,
      new RegExp(
        `: widgets\\.${kind.group.replaceAll(".", "\\.")} takes no strategic merge patch \\(built-in kinds only\\): use a "merge" or "json" patch, or server-side "apply"$`,
      ),
    );
    assert.ok(err.cause instanceof ApiError, "the server's error is kept as the cause");
    const merged = await widgets.patch("patched", { spec: { size: 2 } }, "merge");
    assert.deepEqual(merged.spec, { size: 2 }, "the suggested merge patch works");
  });
});
