// A test file that starts its own kube-apiserver and etcd, as Go's envtest does: run it with `node --test`.
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { type Cluster, connect, isForbidden } from "kindwatch";
import { TestCluster } from "kindwatch/testing";

let cluster: TestCluster;
let admin: Cluster;
before(async () => {
  cluster = await TestCluster.start(); // builds the binaries on first use (minutes), then starts in seconds
  admin = connect({ kubeconfig: cluster.kubeconfigPath });
});
after(async () => {
  await admin.close();
  await cluster.stop(); // stops both processes and removes their data
});

it("keeps what the client writes", async () => {
  const configMaps = admin.resource({ group: "", version: "v1", resource: "configmaps" }).namespace("default");
  await configMaps.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings" }, data: { mode: "a" } });
  assert.deepEqual((await configMaps.get("settings")).data, { mode: "a" });
});

it("forbids what RBAC does not grant", async () => {
  const bob = await cluster.user("bob", ["developers"]); // a client certificate: CN=bob, O=developers
  const asBob = connect({ kubeconfig: bob.kubeconfigPath });
  try {
    const secrets = asBob.resource({ group: "", version: "v1", resource: "secrets" }).namespace("default");
    await assert.rejects(secrets.list(), isForbidden);
  } finally {
    await asBob.close();
  }
});
