/**
 * A client made from discovery's ApiResource knows whether its objects live in namespaces: a namespaced object
 * addressed without a namespace fails before any request, with what to do; made from a bare GVR, the server's
 * "no such path" answer says the resource may be namespaced.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DynamicClient } from "../../src/client/index.js";
import { loadConfig } from "../../src/config/index.js";
import { type ApiResource, DiscoveryClient, RestMapper } from "../../src/discovery/index.js";
import { isBadRequest, Transport } from "../../src/http/index.js";
import {
  type ClientEnv,
  clientEnv,
  configMap,
  configMapsGvr,
  createWidgetCrd,
  type WidgetKind,
  widget,
} from "../support/client.js";
import { failure } from "../support/failure.js";
import { uniqueName } from "../support/wait.js";

describe("dynamic client: the scope of a resource", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let mapper: RestMapper;
  let widgets: ApiResource;
  let clusterRoles: ApiResource;

  before(async () => {
    env = await clientEnv("client-scope");
    kind = await createWidgetCrd(env.client);
    mapper = new RestMapper(new DiscoveryClient(env.transport));
    widgets = await mapper.resourceFor({ group: kind.group, kind: "Widget" });
    clusterRoles = await mapper.resourceFor({ group: "rbac.authorization.k8s.io", kind: "ClusterRole" });
  });

  after(async () => {
    await kind?.remove();
    await env?.close();
  });

  it("refuses a create of a namespaced object without a namespace before any request, saying what to do", async () => {
    // A closed transport answers any request with Aborted: the BadRequest shows that none went out.
    const closed = new Transport(loadConfig({ kubeconfig: env.cluster.kubeconfigPath, env: {} }));
    await closed.close();
    const client = new DynamicClient(closed).resource(widgets);
    const err = await failure(client.create(widget(kind, "nowhere")));
    assert.ok(isBadRequest(err), err.message);
    assert.equal(err.status, 0, "no response: the request was never sent");
    assert.equal(
      err.message,
      `widgets.${kind.group} is namespaced: call .namespace(NAME) first, or set metadata.namespace`,
    );
    assert.equal(err.request, `POST /apis/${kind.group}/v1/widgets`);
    assert.deepEqual(
      err.causes.map((c) => c.field),
      ["metadata.namespace"],
    );
    assert.ok(!err.transient);
    assert.equal(client.namespaced, true);
  });

  it("refuses a call by name on a namespaced resource without a namespace, keeping the scope across .namespace()", async () => {
    const client = env.client.resource(widgets);
    const err = await failure(client.get("w"));
    assert.ok(isBadRequest(err), err.message);
    assert.equal(err.message, `widgets.${kind.group} is namespaced: call .namespace(NAME) first`);
    for (const call of [client.delete("w"), client.patch("w", {}, "merge"), client.deleteCollection()]) {
      assert.ok(isBadRequest(await failure(call)));
    }
    const inNamespace = client.namespace(env.namespace);
    assert.equal(inNamespace.namespaced, true);
    await inNamespace.create(widget(kind, "scoped"));
    assert.equal((await inNamespace.get("scoped")).metadata.name, "scoped");
    assert.equal((await client.list()).items.length, 1, "a list without a namespace is a list of all namespaces");
  });

  it("creates a namespaced object in its metadata.namespace when the client names none", async () => {
    const client = env.client.resource(widgets);
    const created = await client.create(widget(kind, "placed", {}, { namespace: env.namespace }));
    assert.equal(created.metadata.namespace, env.namespace);
  });

  it("gets a client with the scope from Cluster.lookup's resolution", async () => {
    const found = await mapper.resolveResource(`widgets.${kind.group}`);
    assert.equal(env.client.resource(found).namespaced, true);
    assert.equal(env.client.resource(kind.gvr).namespaced, undefined, "a bare GVR leaves the scope unknown");
  });

  it("ignores a cluster-scoped object's stray metadata.namespace, as the server does", async () => {
    const name = uniqueName("client-scope-role");
    const roles = env.client.resource(clusterRoles);
    const role = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name, namespace: env.namespace },
      rules: [],
    };
    try {
      const created = await roles.create(role);
      assert.equal(created.metadata.name, name);
      assert.equal(created.metadata.namespace, undefined);
      const applied = await roles.apply(
        { ...role, rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }] },
        {
          fieldManager: "client-scope-test",
          force: true,
        },
      );
      assert.equal((applied.rules as unknown[]).length, 1);
    } finally {
      await roles.delete(name).catch(() => {});
    }
  });

  it("says a resource of unknown scope may be namespaced when a cluster-wide create finds no such path", async () => {
    const custom = await failure(env.client.resource(kind.gvr).create(widget(kind, "lost")));
    assert.equal(custom.kind, "NotFound", custom.message);
    assert.equal(custom.status, 404);
    assert.match(
      custom.message,
      new RegExp(
        `\\(POST /apis/${kind.group}/v1/widgets\\): 404 page not found: widgets\\.${kind.group} may be namespaced: call \\.namespace\\(NAME\\) first, or set metadata\\.namespace$`,
      ),
    );
    const builtin = await failure(env.client.resource(configMapsGvr).create(configMap("lost")));
    assert.equal(builtin.kind, "MethodNotAllowed", builtin.message);
    assert.match(
      builtin.message,
      /: configmaps may be namespaced: call \.namespace\(NAME\) first, or set metadata\.namespace$/,
    );
  });

  it("adds no hint when a cluster-wide call of unknown scope reached the object's path", async () => {
    const roles = env.client.resource({
      group: clusterRoles.group,
      version: clusterRoles.version,
      resource: "clusterroles",
    });
    const err = await failure(roles.get(uniqueName("absent")));
    assert.equal(err.kind, "NotFound");
    assert.doesNotMatch(err.message, /may be namespaced/);
  });
});
