/**
 * Prometheus metrics against the real server, scraped over HTTP from a node:http server and parsed: a controller's
 * reconcile counts and its workqueue's, the transport's requests by code and method (a retry after a reset connection
 * too), and the informer caches' object counts and sizes.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Registry } from "prom-client";
import { Cluster } from "../../src/connect.js";
import {
  controller,
  done,
  PermanentError,
  type ReconcileResultLabel,
  requeue,
  requeueAfter,
} from "../../src/controller/index.js";
import { isNotFound } from "../../src/http/index.js";
import { controllerMetrics, instrument, reconcileTimeBuckets } from "../../src/metrics/index.js";
import { exponentialRateLimiter } from "../../src/queue/rate-limiters.js";
import { type ClientEnv, clientEnv, configMapsGvr } from "../support/client.js";
import { adminConfig, throughProxy } from "../support/http.js";
import { parsePrometheusText, type Scrape } from "../support/prometheus.js";
import { TcpProxy } from "../support/proxy.js";
import { waitFor } from "../support/wait.js";

const secretsGvr = { group: "", version: "v1", resource: "secrets" };

describe("Prometheus metrics scraped over HTTP", () => {
  let env: ClientEnv;
  let cluster: Cluster;
  let host: string;
  let server: Server;
  let url: string;
  const registry = new Registry();
  const cleanups: (() => Promise<void> | void)[] = [];

  /** GETs /metrics from the test's server and parses it. */
  const scrape = async (): Promise<Scrape> => {
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    return parsePrometheusText(await res.text());
  };
  const configMap = (name: string) => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: env.namespace },
  });

  before(async () => {
    env = await clientEnv("metrics");
    cluster = new Cluster({ kubeconfig: env.cluster.kubeconfigPath, env: {}, informers: { logger: "none" } });
    host = new URL(cluster.config.server).host;
    cleanups.push(instrument(registry, { cluster }));
    server = createServer((_, res) => {
      registry.metrics().then(
        (text) => {
          res.setHeader("content-type", registry.contentType);
          res.end(text);
        },
        (err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await new Promise((resolve) => server?.close(resolve));
    await cluster?.close();
    await env?.close();
  });

  it("counts reconciles by result, errors, durations and workqueue traffic as the reconciles were done", async () => {
    const name = "metrics-configmaps";
    const calls = new Map<string, number>();
    const counted: Record<ReconcileResultLabel, number> = { success: 0, error: 0, requeue: 0, requeue_after: 0 };
    let permanent = 0;
    const finished = new Set<string>();
    // A second observer, given at build time: each run's reconciles and queue reach both.
    const own = new Registry();
    const c = controller(cluster, {
      name,
      namespace: env.namespace,
      concurrency: 2,
      logger: "none",
      rateLimiter: exponentialRateLimiter({ baseMs: 5, maxMs: 50 }),
      metrics: controllerMetrics(own),
    })
      .for({ ...configMapsGvr, kind: "ConfigMap", namespaced: true })
      .reconcile(async (req) => {
        const call = (calls.get(req.name) ?? 0) + 1;
        calls.set(req.name, call);
        const first = call === 1;
        // Each object's first reconcile takes another path; its second (if any) succeeds.
        if (req.name === "fails-once" && first) {
          counted.error++;
          throw new Error("a transient failure");
        }
        if (req.name === "permanent") {
          counted.error++;
          permanent++;
          finished.add(req.name);
          throw new PermanentError("an invalid spec");
        }
        if (req.name === "requeue" && first) {
          counted.requeue++;
          return requeue();
        }
        if (req.name === "requeue-after" && first) {
          counted.requeue_after++;
          return requeueAfter(20);
        }
        counted.success++;
        finished.add(req.name);
        return done();
      });
    cleanups.push(instrument(registry, { controllers: [c] }));
    const names = ["fails-once", "permanent", "requeue", "requeue-after", "plain-1", "plain-2"];
    for (const n of names) await env.client.resource(configMapsGvr).namespace(env.namespace).create(configMap(n));
    const abort = new AbortController();
    const running = c.run(abort.signal);
    cleanups.push(async () => {
      abort.abort();
      await running;
    });

    await waitFor("every object reconciled to its end", () => finished.size === names.length);
    const total = () => Object.values(counted).reduce((a, b) => a + b, 0);
    const labels = { controller: name };
    const s = await waitFor("the last reconcile in the scrape", async () => {
      const scraped = await scrape();
      return scraped.sum("controller_runtime_reconcile_total", labels) === total() && scraped;
    });
    assert.deepEqual(counted, { success: 5, error: 2, requeue: 1, requeue_after: 1 }, "what the reconciler did");
    for (const result of Object.keys(counted) as ReconcileResultLabel[]) {
      assert.equal(
        s.value("controller_runtime_reconcile_total", { ...labels, result }),
        counted[result],
        `result=${result}`,
      );
    }
    assert.equal(s.value("controller_runtime_reconcile_errors_total", labels), counted.error);
    assert.equal(s.value("controller_runtime_terminal_reconcile_errors_total", labels), permanent);
    assert.equal(s.types.get("controller_runtime_reconcile_time_seconds"), "histogram");
    assert.equal(s.value("controller_runtime_reconcile_time_seconds_count", labels), total());
    const les = s.find("controller_runtime_reconcile_time_seconds_bucket", labels).map((b) => b.labels.le);
    assert.deepEqual(les, [...reconcileTimeBuckets.map(String), "+Inf"], "controller-runtime's buckets");
    assert.equal(s.value("controller_runtime_max_concurrent_reconciles", labels), 2);
    assert.equal(s.value("controller_runtime_active_workers", labels), 0, "idle now");

    const queue = { name, controller: name };
    const retries = counted.requeue + counted.requeue_after + (counted.error - permanent);
    assert.equal(s.value("workqueue_retries_total", queue), retries, "each retry, requeue and requeue-after");
    assert.equal(s.value("workqueue_adds_total", queue), names.length + retries, "one add per reconcile");
    assert.equal(s.value("workqueue_depth", queue), 0);
    assert.equal(s.value("workqueue_queue_duration_seconds_count", queue), total());
    assert.equal(s.value("workqueue_work_duration_seconds_count", queue), total());
    assert.equal(s.value("workqueue_longest_running_processor_seconds", queue), 0);

    const o = parsePrometheusText(await own.metrics());
    assert.equal(o.value("controller_runtime_reconcile_total", { ...labels, result: "error" }), counted.error);
    assert.equal(o.sum("controller_runtime_reconcile_total", labels), total());
    assert.equal(o.value("workqueue_adds_total", queue), names.length + retries);
    assert.equal(o.value("workqueue_depth", queue), 0);
  });

  it("counts each request by code, method and host, and times it by verb", async () => {
    const configMaps = cluster.client.resource(configMapsGvr).namespace(env.namespace);
    const requests = (s: Scrape, code: string, method: string) =>
      s.sum("rest_client_requests_total", { code, method, host });
    const timed = (s: Scrape, verb: string) => s.sum("rest_client_request_duration_seconds_count", { verb, host });
    const before = await scrape();
    await assert.rejects(configMaps.get("absent"), isNotFound);
    await configMaps.create(configMap("posted"));
    const after = await scrape();
    assert.equal(requests(after, "404", "GET") - requests(before, "404", "GET"), 1, "the GET that found nothing");
    assert.equal(requests(after, "201", "POST") - requests(before, "201", "POST"), 1, "the create");
    assert.equal(timed(after, "GET") - timed(before, "GET"), 1);
    assert.equal(timed(after, "POST") - timed(before, "POST"), 1);
    assert.equal(after.types.get("rest_client_request_duration_seconds"), "histogram");
    assert.ok(requests(after, "200", "GET") > 0, "the informers' lists and watches are requests too");
  });

  it("counts a retry after a reset connection with client-go's <error> code", async () => {
    const proxy = await TcpProxy.start(cluster.config.server);
    cleanups.push(() => proxy.close());
    const proxied = new Cluster({ config: throughProxy(adminConfig(env.cluster), proxy), qps: 0 });
    cleanups.push(() => proxied.close());
    cleanups.push(instrument(registry, { cluster: proxied }));
    const proxyHost = new URL(proxy.url).host;
    proxy.resetNext();
    await proxied.client.resource(configMapsGvr).namespace(env.namespace).list();
    const s = await scrape();
    assert.equal(s.value("rest_client_request_retries_total", { code: "<error>", verb: "GET", host: proxyHost }), 1);
    assert.equal(s.value("rest_client_requests_total", { code: "<error>", method: "GET", host: proxyHost }), 1);
    assert.equal(s.value("rest_client_requests_total", { code: "200", method: "GET", host: proxyHost }), 1);
    assert.equal(s.value("rest_client_request_duration_seconds_count", { verb: "GET", host: proxyHost }), 1);
  });

  it("reports each resource's cached objects and bytes at scrape time, as informers come and go", async () => {
    const secrets = env.client.resource(secretsGvr).namespace(env.namespace);
    for (const n of ["one", "two"]) {
      await secrets.create({ apiVersion: "v1", kind: "Secret", metadata: { name: n }, stringData: { key: n } });
    }
    await env.client.resource(configMapsGvr).namespace(env.namespace).create(configMap("cached"));
    const cms = cluster.informers.acquire({ gvr: configMapsGvr, namespace: env.namespace });
    const secretsLease = cluster.informers.acquire({ gvr: secretsGvr, namespace: env.namespace });
    cleanups.push(() => cms.release());
    await cms.informer.synced();
    await secretsLease.informer.synced();
    const listed = (await env.client.resource(configMapsGvr).namespace(env.namespace).list()).items.length;
    assert.ok(listed >= 1, `at least the one made here (${listed}), and those of the tests before`);
    let s = await scrape();
    assert.equal(s.value("kindwatch_cache_objects", { resource: "configmaps" }), listed);
    assert.equal(s.value("kindwatch_cache_objects", { resource: "secrets" }), 2);
    const bytes = s.value("kindwatch_cache_bytes", { resource: "configmaps" });
    assert.equal(bytes, cms.informer.status().bytes);
    assert.ok(bytes > listed * 100, `each ConfigMap weighs something (${bytes} bytes)`);

    // A second informer of the resource, selecting the big one only: the caches hold it twice, and say so.
    const bigOnly = cluster.informers.acquire({ gvr: configMapsGvr, namespace: env.namespace, labelSelector: "big" });
    cleanups.push(() => bigOnly.release());
    await bigOnly.informer.synced();
    await env.client
      .resource(configMapsGvr)
      .namespace(env.namespace)
      .create({ ...configMap("big"), metadata: { ...configMap("big").metadata, labels: { big: "" } } });
    s = await waitFor(
      "the new ConfigMap in the scrape",
      async () => {
        const scraped = await scrape();
        return scraped.value("kindwatch_cache_objects", { resource: "configmaps" }) === listed + 2 && scraped;
      },
      { timeoutMs: 10_000 },
    );
    assert.equal(
      s.value("kindwatch_cache_bytes", { resource: "configmaps" }),
      cms.informer.status().bytes + bigOnly.informer.status().bytes,
    );

    await secretsLease.release();
    s = await scrape();
    assert.equal(s.find("kindwatch_cache_objects", { resource: "secrets" }).length, 0, "a released informer is gone");
  });
});
