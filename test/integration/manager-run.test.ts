/**
 * The Manager in one process against the real server: the Controller's seam (informers sync before leading, nothing
 * reconciles until then; a halt aborts reconciles in flight at once), `/readyz` false until the caches sync and true
 * after, `/healthz`, `/metrics` serving the user's registry and `leader_election_master_status`, leadership lost →
 * reconciles aborted and `run` rejecting with LeaderElectionLostError, and a failing reconcile's JSON log line.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Counter } from "prom-client";
import { SharedInformerFactory } from "../../src/cache/factory.js";
import { controller, done, type Request } from "../../src/controller/index.js";
import { jsonLogger, LeaderElectionLostError, Manager, type ManagerCluster } from "../../src/manager/index.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, clientEnv, configMapsGvr, namespacesGvr } from "../support/client.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { parsePrometheusText } from "../support/prometheus.js";
import { outcome, uniqueName, waitFor } from "../support/wait.js";
import { simpleCrd, uniqueGroup } from "../support/watchall.js";

const configMaps = { ...configMapsGvr, kind: "ConfigMap", namespaced: true } as const;

/** GET on the manager's HTTP server: status and body. */
async function get(mgr: Manager, path: string): Promise<{ status: number; body: string; type: string }> {
  const address = await waitFor("the manager to listen", () => mgr.address());
  const res = await fetch(`http://127.0.0.1:${address.port}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get("content-type") ?? "" };
}

describe("Manager", () => {
  let env: ClientEnv;
  let cluster: ManagerCluster;
  const namespaces: string[] = [];
  const freshNamespace = async () => {
    const name = uniqueName("mgr-run");
    await env.client.resource(namespacesGvr).create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    namespaces.push(name);
    return name;
  };
  const configMap = (ns: string, name: string, data: Record<string, string> = {}): KubeObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: ns },
    data,
  });

  before(async () => {
    env = await clientEnv("mgr-run");
    cluster = {
      client: env.client,
      informers: new SharedInformerFactory(env.client, { logger: "none" }),
      transport: env.transport,
    };
  });
  after(async () => {
    await cluster?.informers.shutdown();
    for (const ns of namespaces)
      await env.client
        .resource(namespacesGvr)
        .delete(ns)
        .catch(() => {});
    await env?.close();
  });

  it("controller seam: syncs its informers without reconciling until leading, then reconciles what was queued", async () => {
    const ns = await freshNamespace();
    const cms = env.client.resource(configMapsGvr).namespace(ns);
    await cms.create(configMap(ns, "before"));
    const reconciled: string[] = [];
    const c = controller(cluster, { name: "gated", namespace: ns, logger: "none" })
      .for(configMaps)
      .reconcile(async (req) => {
        reconciled.push(req.name);
        return done();
      });
    let lead = () => {};
    const leading = new Promise<void>((resolve) => {
      lead = resolve;
    });
    let synced = false;
    const stop = new AbortController();
    const run = c.run(stop.signal, {
      leading,
      onSynced: () => {
        synced = true;
      },
    });
    try {
      await waitFor("the controller's informers to sync", () => synced);
      // A change after the sync reaches the same (shared) informer, so its handlers have queued both keys by now.
      await cms.create(configMap(ns, "after"));
      const lease = cluster.informers.acquire({ gvr: configMapsGvr, namespace: ns });
      try {
        await waitFor("the informer to hold the new object", () => lease.informer.store.get(`${ns}/after`));
      } finally {
        await lease.release();
      }
      assert.deepEqual(reconciled, [], "reconciled before leading");
      lead();
      await waitFor("both keys reconciled once leading", () => reconciled.length >= 2);
      assert.deepEqual([...reconciled].sort(), ["after", "before"]);
    } finally {
      stop.abort();
      await run;
    }
  });

  it("controller seam: a halt aborts the reconcile in flight at once, where a stop would drain it", async () => {
    const ns = await freshNamespace();
    await env.client.resource(configMapsGvr).namespace(ns).create(configMap(ns, "slow"));
    let started = false;
    let abortedAt: number | undefined;
    const c = controller(cluster, { name: "halted", namespace: ns, logger: "none", drainTimeoutMs: 60_000 })
      .for(configMaps)
      .reconcile(async (_req, ctx) => {
        started = true;
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
        abortedAt = Date.now();
        return done();
      });
    const stop = new AbortController();
    const halt = new AbortController();
    const run = c.run(stop.signal, { halt: halt.signal });
    const finished = outcome(run);
    await waitFor("the reconcile to start", () => started);
    const haltedAt = Date.now();
    halt.abort();
    await waitFor("run to return after the halt", finished, { timeoutMs: 5_000 });
    assert.deepEqual(finished(), { resolved: true });
    assert.ok(abortedAt !== undefined && abortedAt - haltedAt < 1_000, "the reconcile's signal aborted at once");
    stop.abort();
  });

  it("answers /readyz 503 until the caches synced, 200 after; /healthz 200; /metrics from the registry", async () => {
    // The primary's kind does not exist yet: its informer cannot list, so the caches sync only once the CRD is made.
    const spec = simpleCrd(uniqueGroup("mgr-ready"));
    const gizmos = { group: spec.group, version: "v1", resource: spec.plural, kind: spec.kind, namespaced: true };
    const ns = await freshNamespace();
    const mgr = new Manager(cluster, { listen: { host: "127.0.0.1", port: 0 }, logger: "none" });
    const reconciles = new Counter({ name: "test_reconciles_total", help: "user metric", registers: [mgr.registry] });
    const reconciled: string[] = [];
    mgr.add(
      controller(cluster, { name: "gizmos", namespace: ns })
        .for(gizmos)
        .reconcile(async (req) => {
          reconciles.inc();
          reconciled.push(req.name);
          return done();
        }),
    );
    const stop = new AbortController();
    const run = mgr.run(stop.signal);
    try {
      const notReady = await get(mgr, "/readyz");
      assert.equal(notReady.status, 503);
      assert.match(notReady.body, /controller gizmos: caches not synced/);
      assert.equal((await get(mgr, "/healthz")).status, 200);
      assert.equal((await get(mgr, "/nothing")).status, 404);

      await createCrd(env.transport, spec);
      await env.client
        .resource(gizmos)
        .namespace(ns)
        .create({ apiVersion: `${spec.group}/v1`, kind: spec.kind, metadata: { name: "g1" } });
      await waitFor("/readyz to answer 200", async () => (await get(mgr, "/readyz")).status === 200);
      await waitFor("g1 reconciled", () => reconciled.includes("g1"));
      const metrics = await get(mgr, "/metrics");
      assert.equal(metrics.status, 200);
      assert.equal(metrics.type, mgr.registry.contentType);
      assert.match(metrics.body, /^test_reconciles_total 1$/m);
      assert.doesNotMatch(metrics.body, /leader_election_master_status/, "no election, no gauge");
      // The manager feeds kindwatch's own metrics into the same registry: the controller's, its cluster's requests and
      // caches.
      const scrape = parsePrometheusText(metrics.body);
      assert.equal(scrape.value("controller_runtime_reconcile_total", { controller: "gizmos", result: "success" }), 1);
      assert.equal(scrape.value("controller_runtime_reconcile_time_seconds_count", { controller: "gizmos" }), 1);
      assert.equal(scrape.value("workqueue_adds_total", { name: "gizmos" }), 1);
      assert.ok(
        scrape.sum("rest_client_requests_total", { code: "201", method: "POST" }) >= 2,
        "the CRD and g1 created",
      );
      assert.equal(scrape.value("kindwatch_cache_objects", { resource: `${spec.plural}.${spec.group}` }), 1);
    } finally {
      stop.abort();
      await run;
      await deleteCrd(env.transport, spec);
    }
    assert.equal(mgr.address(), undefined, "the HTTP server is closed after run");
  });

  it("keeps a standby's caches synced and ready without reconciling; it reconciles once the leader stops", async () => {
    const ns = await freshNamespace();
    await env.client.resource(configMapsGvr).namespace(ns).create(configMap(ns, "shared"));
    const lease = uniqueName("mgr-lease");
    const reconciledBy: string[] = [];
    const start = (identity: string) => {
      const mgr = new Manager(cluster, {
        listen: { host: "127.0.0.1", port: 0 },
        logger: "none",
        leaderElection: {
          namespace: ns,
          name: lease,
          identity,
          leaseDurationMs: 3000,
          renewDeadlineMs: 2000,
          retryPeriodMs: 500,
        },
      });
      mgr.add(
        controller(cluster, { name: `c-${identity}`, namespace: ns })
          .for(configMaps)
          .reconcile(async () => {
            reconciledBy.push(identity);
            return done();
          }),
      );
      const stop = new AbortController();
      return { mgr, stop, run: mgr.run(stop.signal) };
    };
    const leader = start("leader");
    try {
      await waitFor("the first manager to reconcile", () => reconciledBy.includes("leader"));
      const standby = start("standby");
      try {
        await waitFor("the standby to be ready", async () => (await get(standby.mgr, "/readyz")).status === 200);
        await waitFor("the standby to see the leader", () => standby.mgr.elector?.leader() === "leader");
        assert.equal(standby.mgr.isLeader(), false);
        assert.match(
          (await get(standby.mgr, "/metrics")).body,
          new RegExp(`^leader_election_master_status\\{name="${lease}"\\} 0$`, "m"),
        );
        assert.deepEqual(reconciledBy, ["leader"], "only the leader reconciled");

        leader.stop.abort();
        await leader.run;
        await waitFor("the standby to reconcile after the leader released the Lease", () =>
          reconciledBy.includes("standby"),
        );
        assert.equal(standby.mgr.isLeader(), true);
      } finally {
        standby.stop.abort();
        await standby.run;
      }
    } finally {
      leader.stop.abort();
      await leader.run;
    }
  });

  it("reports leading on leader_election_master_status; a lost Lease aborts reconciles and rejects run", async () => {
    const ns = await freshNamespace();
    await env.client.resource(configMapsGvr).namespace(ns).create(configMap(ns, "held"));
    const lease = uniqueName("mgr-lease");
    const lines: Record<string, unknown>[] = [];
    const mgr = new Manager(cluster, {
      listen: { host: "127.0.0.1", port: 0 },
      logger: jsonLogger({ destination: { write: (text: string) => lines.push(JSON.parse(text)) } }),
      leaderElection: {
        namespace: ns,
        name: lease,
        identity: "only",
        leaseDurationMs: 3000,
        renewDeadlineMs: 2000,
        retryPeriodMs: 500,
      },
    });
    let inFlight: AbortSignal | undefined;
    let abortedAt: number | undefined;
    mgr.add(
      controller(cluster, { name: "holder", namespace: ns, drainTimeoutMs: 60_000 })
        .for(configMaps)
        .reconcile(async (_req: Request, ctx) => {
          inFlight = ctx.signal;
          await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
          abortedAt = Date.now();
          return done();
        }),
    );
    const run = mgr.run();
    const finished = outcome(run);
    await waitFor("a reconcile in flight", () => inFlight);
    assert.equal(mgr.isLeader(), true);
    assert.match(
      (await get(mgr, "/metrics")).body,
      new RegExp(`^leader_election_master_status\\{name="${lease}"\\} 1$`, "m"),
    );
    assert.equal((await get(mgr, "/readyz")).status, 200);

    // Someone else takes the Lease: the manager's next renewal finds it held by another.
    const leases = env.client
      .resource({ group: "coordination.k8s.io", version: "v1", resource: "leases" })
      .namespace(ns);
    const current = await leases.get(lease);
    const takenAt = Date.now();
    await leases.update({
      ...current,
      spec: {
        ...(current.spec as object),
        holderIdentity: "usurper",
        renewTime: new Date().toISOString().replace("Z", "000Z"),
      },
    });
    const failure = await waitFor("run to reject", finished, { timeoutMs: 10_000 });
    assert.ok(failure instanceof LeaderElectionLostError, `rejected with ${String(failure)}`);
    assert.equal(failure.lease, `${ns}/${lease}`);
    assert.ok(abortedAt !== undefined && abortedAt - takenAt < 2_000, "the reconcile in flight was aborted at once");
    assert.equal(mgr.isLeader(), false);
    assert.ok(
      lines.some((l) => l.msg === "leader election: lost the lease" && l.level === "error"),
      "the loss is logged",
    );
  });

  it("logs a failing reconcile as one JSON line with controller, kind, namespace, name and reconcileID", async () => {
    const ns = await freshNamespace();
    const secretValue = "s3cr3t-value-never-logged";
    await env.client
      .resource(configMapsGvr)
      .namespace(ns)
      .create(configMap(ns, "failing", { password: secretValue }));
    const lines: string[] = [];
    const mgr = new Manager(cluster, {
      logger: jsonLogger({ level: "info", destination: { write: (text: string) => lines.push(text) } }),
    });
    mgr.add(
      controller(cluster, { name: "failer", namespace: ns })
        .for(configMaps)
        .reconcile(async (_req, ctx) => {
          ctx.log("info", "reconciling");
          throw new Error("boom");
        }),
    );
    const stop = new AbortController();
    const run = mgr.run(stop.signal);
    try {
      await waitFor(
        "two failed reconciles logged",
        () => lines.filter((l) => l.includes("reconcile failed")).length >= 2,
      );
    } finally {
      stop.abort();
      await run;
    }
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const failed = parsed.filter((l) => l.msg === "reconcile failed, retrying");
    const first = failed[0];
    assert.ok(first);
    assert.equal(first.level, "warn");
    assert.equal(typeof first.time, "number");
    assert.equal(first.controller, "failer");
    assert.equal(first.kind, "ConfigMap");
    assert.equal(first.namespace, ns);
    assert.equal(first.name, "failing");
    assert.equal(first.error, "boom");
    assert.match(String(first.reconcileID), /^[0-9a-f-]{36}$/);
    assert.notEqual(failed[1]?.reconcileID, first.reconcileID, "one reconcileID per reconcile");
    const own = parsed.find((l) => l.msg === "reconciling" && l.reconcileID === first.reconcileID);
    assert.ok(own, "ctx.log lines carry the same reconcileID");
    assert.equal(own.name, "failing");
    assert.ok(
      lines.every((l) => !l.includes(secretValue)),
      "no object content in any log line",
    );
  });
});
