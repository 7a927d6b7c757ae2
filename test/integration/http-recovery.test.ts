/**
 * The transport's recovery probe against the real API server, behind a proxy that plays the outage: it asks with the
 * transport's own credentials and TLS (a user without any RBAC binding may ask: system:public-info-viewer grants
 * /readyz to every user), wakes a long wait soon after the server answers again, and sends nothing otherwise.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/index.js";
import { isOutage, type RetryEvent, Transport } from "../../src/http/index.js";
import { attachCluster, type ClusterAccess, type TestUser } from "../../src/testing/index.js";
import { failure } from "../support/failure.js";
import { throughProxy } from "../support/http.js";
import { TcpProxy } from "../support/proxy.js";
import { outcome, uniqueName, waitFor } from "../support/wait.js";

describe("transport recovery probe", () => {
  let cluster: ClusterAccess;
  let user: TestUser;
  let proxy: TcpProxy;
  let transport: Transport;

  before(async () => {
    cluster = await attachCluster();
    user = await cluster.user(uniqueName("probe-nobody"));
    proxy = await TcpProxy.start(cluster.server);
    transport = new Transport(throughProxy(loadConfig({ kubeconfig: user.kubeconfigPath, env: {} }), proxy));
  });
  after(async () => {
    await transport?.close();
    await proxy?.close();
  });

  it("wakes a wait on a dead server soon after it answers again, asking as a user without any rights", async () => {
    const denied = await failure(transport.request({ path: "/api/v1/namespaces/default/configmaps" }));
    assert.equal(denied.status, 403, "the user may read nothing");
    assert.equal((await transport.request({ path: "/readyz" })).status, 200, "but may ask whether the server is ready");

    proxy.mode = "reset";
    proxy.cut();
    const outage = await failure(transport.request({ path: "/version", maxRetries: 0 }));
    assert.ok(isOutage(outage), outage.message);
    const recovery = transport.recovery;
    const probes = recovery.probes;
    const woken = outcome(recovery.wait(outage, 120_000));
    await waitFor("the probe to find the server down", () => recovery.probes >= probes + 2, { timeoutMs: 10_000 });
    assert.equal(woken(), undefined, "no wake-up while the server is down");

    const accepted = proxy.accepted;
    proxy.mode = "forward";
    // Far below the wait's two minutes: the next probe (within about a second) sees the server back.
    assert.deepEqual(await waitFor("the wait to end", woken, { timeoutMs: 10_000 }), { resolved: true });
    assert.ok(proxy.accepted > accepted, "the probe that saw it went through the proxy to the server");
    await waitFor("the probe to stop", () => !recovery.probing && recovery.waiting === 0, { timeoutMs: 5000 });
  });

  it("sends nothing while a wait is on a refusal (403), nor while nobody waits", async () => {
    const recovery = transport.recovery;
    await waitFor("the probe to be idle", () => !recovery.probing, { timeoutMs: 5000 });
    const denied = await failure(transport.request({ path: "/api/v1/namespaces/default/configmaps" }));
    const [probes, accepted, sent] = [recovery.probes, proxy.accepted, proxy.bytesToServer];
    assert.equal(await recovery.wait(denied, 1500), true);
    assert.equal(recovery.probes, probes);
    assert.equal(proxy.accepted, accepted, "no new connection");
    assert.equal(proxy.bytesToServer, sent, "no request on an open one");
  });

  it("ends a read's retry wait after a reset connection early once the probe sees the server back", async () => {
    const admin = await TcpProxy.start(cluster.server, "reset");
    const retries: (RetryEvent & { at: number })[] = [];
    const t = new Transport(throughProxy(loadConfig({ kubeconfig: cluster.kubeconfigPath, env: {} }), admin), {
      // Probes every 100 ms: the server's return is seen far sooner than the retry's own delay of over 1.6 s.
      recovery: { intervalMs: 100 },
      maxRetries: 10,
      timeoutMs: 60_000,
      onRetry: (event) => {
        retries.push({ ...event, at: Date.now() });
        if (event.delayMs >= 1600) admin.mode = "forward";
      },
    });
    try {
      const res = await t.request({ path: "/version" });
      const answered = Date.now();
      assert.equal(res.status, 200);
      const last = retries[retries.length - 1];
      assert.ok(last && last.delayMs >= 1600 && last.error.kind === "Network", JSON.stringify(last?.error.kind));
      const waited = answered - last.at;
      assert.ok(waited < last.delayMs / 2, `answered ${waited} ms after a retry announced for ${last.delayMs} ms`);
    } finally {
      await t.close();
      await admin.close();
    }
  });
});
