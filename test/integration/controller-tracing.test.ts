/**
 * OpenTelemetry tracing of a controller against the real server, with the SDK's in-memory exporter: each reconcile is
 * a span linked to the watch event that queued it, the API calls it makes are its CLIENT children (method, resource,
 * status code), and a retried call is one span with its retry as an event. With no SDK registered nothing is recorded
 * and everything works as before.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { SharedInformerFactory } from "../../src/cache/factory.js";
import { DynamicClient } from "../../src/client/resource.js";
import { type Controller, type ControllerCluster, controller, done, type Request } from "../../src/controller/index.js";
import { DiscoveryClient } from "../../src/discovery/client.js";
import { RestMapper } from "../../src/discovery/mapper.js";
import { isNotFound } from "../../src/http/errors.js";
import { Tracing } from "../../src/http/tracing.js";
import { Transport } from "../../src/http/transport.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, clientEnv, configMapsGvr, namespacesGvr } from "../support/client.js";
import { adminConfig, throughProxy } from "../support/http.js";
import { TcpProxy } from "../support/proxy.js";
import { uniqueName, waitFor } from "../support/wait.js";

describe("Controller tracing", () => {
  let env: ClientEnv;
  let cluster: ControllerCluster;
  const namespaces: string[] = [];
  const running: { abort: AbortController; done: Promise<void> }[] = [];

  const freshNamespace = async () => {
    const name = uniqueName("ctrl-trace");
    await env.client.resource(namespacesGvr).create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    namespaces.push(name);
    return name;
  };

  /**
   * A controller of the ConfigMaps of `ns`: for the one named "source" it reads a ConfigMap that is not there (a 404)
   * and applies a "derived" one it owns (a PATCH).
   */
  const start = (ns: string, reconciled: Request[]) => {
    const c = controller(cluster, { name: "tracer", namespace: ns, logger: "none" })
      .for(configMapsGvr)
      .reconcile(async (req, ctx) => {
        const cm = ctx.get(req);
        if (!cm || req.name !== "source") return done();
        await ctx.client
          .resource(configMapsGvr)
          .namespace(ns)
          .get("absent")
          .catch((err: unknown) => {
            if (!isNotFound(err)) throw err;
          });
        await ctx.apply(
          { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "derived" }, data: { from: "source" } },
          { owner: cm },
        );
        reconciled.push(req);
        return done();
      });
    return run(c);
  };

  /** Runs `c` until the returned function is called; that function resolves once `run` has. */
  const run = (c: Controller) => {
    const abort = new AbortController();
    const entry = { abort, done: c.run(abort.signal) };
    running.push(entry);
    return async () => {
      abort.abort();
      await entry.done;
    };
  };

  const source = (ns: string): KubeObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "source", namespace: ns },
    data: { a: "1" },
  });

  before(async () => {
    env = await clientEnv("ctrl-trace");
    // Made before any SDK is registered: the transport must find the provider when it is used, not when it is made.
    const client = new DynamicClient(env.transport);
    cluster = {
      client,
      informers: new SharedInformerFactory(client, { logger: "none" }),
      mapper: new RestMapper(new DiscoveryClient(env.transport)),
    };
  });

  after(async () => {
    for (const r of running) r.abort.abort();
    await Promise.all(running.map((r) => r.done.catch(() => {})));
    await cluster?.informers.shutdown();
    for (const ns of namespaces)
      await env.client
        .resource(namespacesGvr)
        .delete(ns)
        .catch(() => {});
    await env?.close();
  });

  it("with no SDK registered records nothing and reconciles as before", async () => {
    assert.equal(new Tracing().tracer(), undefined, "no tracer is handed out before an SDK is registered");
    const ns = await freshNamespace();
    const reconciled: Request[] = [];
    const stop = start(ns, reconciled);
    await env.client.resource(configMapsGvr).namespace(ns).create(source(ns));
    await waitFor("the derived ConfigMap", () => reconciled.length > 0);
    const derived = await env.client.resource(configMapsGvr).namespace(ns).get("derived");
    assert.deepEqual(derived.data, { from: "source" });
    await stop();
  });

  describe("with an SDK registered", () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

    before(() => {
      assert.ok(context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()));
      assert.ok(trace.setGlobalTracerProvider(provider));
    });

    after(async () => {
      trace.disable();
      context.disable();
      await provider.shutdown();
    });

    const spans = () => exporter.getFinishedSpans();
    const attr = (span: ReadableSpan, key: string) => span.attributes[key];
    const childrenOf = (parent: ReadableSpan) =>
      spans().filter(
        (s) =>
          s.parentSpanContext?.spanId === parent.spanContext().spanId &&
          s.spanContext().traceId === parent.spanContext().traceId,
      );

    it("links each reconcile span to the event that queued it, with its API calls as children", async () => {
      const ns = await freshNamespace();
      const reconciled: Request[] = [];
      const stop = start(ns, reconciled);
      const configMaps = env.client.resource(configMapsGvr).namespace(ns);
      await configMaps.create(source(ns));
      const reconcileSpans = () =>
        spans().filter(
          (s) =>
            s.name === "reconcile tracer" &&
            attr(s, "k8s.namespace.name") === ns &&
            attr(s, "k8s.object.name") === "source",
        );
      const [first] = await waitFor(
        "the reconcile span of the creation",
        () => reconcileSpans().length === 1 && reconcileSpans(),
      );
      await configMaps.patch("source", { data: { a: "2" } }, "merge");
      const second = await waitFor("the reconcile span of the update", () => reconcileSpans()[1]);
      await stop();
      assert.ok(first);

      /** The enqueue span the reconcile links to: the change of the source seen by the watch. */
      const cause = (reconcile: ReadableSpan, type: string) => {
        const enqueue = spans().find(
          (s) =>
            s.name === "enqueue ConfigMap" &&
            attr(s, "k8s.namespace.name") === ns &&
            attr(s, "k8s.object.name") === "source" &&
            attr(s, "kindwatch.event.type") === type,
        );
        assert.ok(enqueue, `an enqueue span for the source's ${type}`);
        assert.equal(enqueue.kind, SpanKind.PRODUCER);
        // The creation may come with the first list, if that list was read after it.
        const origins = type === "add" ? ["initial", "live"] : ["live"];
        assert.ok(origins.includes(String(attr(enqueue, "kindwatch.event.origin"))));
        assert.deepEqual(attr(enqueue, "kindwatch.reconcile.keys"), [`${ns}/source`]);
        assert.deepEqual(
          reconcile.links.map((l) => l.context.spanId),
          [enqueue.spanContext().spanId],
          `one link, to the ${type}'s enqueue span`,
        );
      };
      /** The reconcile's CLIENT children: the 404 GET, then the apply's PATCH with `status`. */
      const calls = (reconcile: ReadableSpan, status: number) => {
        const children = childrenOf(reconcile);
        const names = children.map((s) => s.name).join(", ");
        const get = children.find((s) => s.name === "GET configmaps" && attr(s, "k8s.object.name") === "absent");
        assert.ok(get, `a GET of the absent ConfigMap among ${names}`);
        assert.equal(get.kind, SpanKind.CLIENT);
        assert.equal(attr(get, "http.request.method"), "GET");
        assert.equal(attr(get, "http.response.status_code"), 404);
        assert.equal(attr(get, "error.type"), "404");
        assert.equal(attr(get, "k8s.verb"), "get");
        assert.equal(attr(get, "url.template"), "/api/{version}/namespaces/{namespace}/configmaps/{name}");
        assert.equal(get.status.code, SpanStatusCode.ERROR);
        const patch = children.find((s) => s.name === "PATCH configmaps");
        assert.ok(patch, `a PATCH (the apply) among ${names}`);
        assert.equal(patch.kind, SpanKind.CLIENT);
        assert.equal(attr(patch, "http.response.status_code"), status);
        assert.equal(attr(patch, "k8s.verb"), "patch");
        assert.equal(attr(patch, "k8s.object.name"), "derived");
        assert.equal(attr(patch, "k8s.namespace.name"), ns);
        assert.equal(attr(patch, "server.address"), new URL(env.transport.config.server).hostname);
        assert.notEqual(patch.status.code, SpanStatusCode.ERROR);
        assert.ok(
          patch.startTime[0] * 1e9 + patch.startTime[1] >= get.startTime[0] * 1e9 + get.startTime[1],
          "the calls in the order the reconcile made them",
        );
      };

      for (const reconcile of [first, second]) {
        assert.equal(reconcile.kind, SpanKind.CONSUMER);
        assert.equal(attr(reconcile, "kindwatch.controller"), "tracer");
        assert.equal(attr(reconcile, "kindwatch.reconcile.result"), "success");
        assert.equal(reconcile.parentSpanContext, undefined, "a reconcile starts a trace of its own");
      }
      cause(first, "add");
      calls(first, 201);
      cause(second, "update");
      calls(second, 200);
    });

    it("gives a key's reconcile a link to each change merged while it waited, up to four", async () => {
      const ns = await freshNamespace();
      let holding = false;
      let release = () => {};
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      // One worker, held by "gate": the changes of "busy" meanwhile merge into one pending key.
      const c = controller(cluster, { name: "merger", namespace: ns, logger: "none" })
        .for(configMapsGvr)
        .reconcile(async (req) => {
          if (req.name === "gate") {
            holding = true;
            await gate;
          }
          return done();
        });
      const stop = run(c);
      const configMaps = env.client.resource(configMapsGvr).namespace(ns);
      await configMaps.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "gate" } });
      await waitFor("the worker held by the gate", () => holding);
      await configMaps.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "busy" }, data: { n: "0" } });
      for (let n = 1; n <= 5; n++) await configMaps.patch("busy", { data: { n: String(n) } }, "merge");
      const enqueued = () =>
        spans().filter(
          (s) =>
            s.name === "enqueue ConfigMap" &&
            attr(s, "k8s.namespace.name") === ns &&
            attr(s, "k8s.object.name") === "busy",
        );
      await waitFor("six enqueue spans of busy", () => enqueued().length === 6);
      release();
      const busyReconciles = () =>
        spans().filter(
          (s) =>
            s.name === "reconcile merger" &&
            attr(s, "k8s.namespace.name") === ns &&
            attr(s, "k8s.object.name") === "busy",
        );
      await waitFor("the reconcile of busy", () => busyReconciles().length > 0);
      await stop();
      const [reconcile, ...more] = busyReconciles();
      assert.ok(reconcile);
      assert.equal(more.length, 0, "six changes, one reconcile");
      const byStart = (a: ReadableSpan, b: ReadableSpan) =>
        a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1];
      assert.deepEqual(
        reconcile.links.map((l) => l.context.spanId),
        enqueued()
          .sort(byStart)
          .slice(0, 4)
          .map((s) => s.spanContext().spanId),
        "links to the first four changes, in order",
      );
    });

    it("links a retried reconcile to the failed one, which is marked failed", async () => {
      const ns = await freshNamespace();
      let failures = 0;
      const c = controller(cluster, { name: "flaky", namespace: ns, logger: "none" })
        .for(configMapsGvr)
        .reconcile(async () => {
          if (failures++ === 0) throw new Error("not yet");
          return done();
        });
      const stop = run(c);
      await env.client
        .resource(configMapsGvr)
        .namespace(ns)
        .create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "flaky" } });
      const reconciles = () =>
        spans()
          .filter((s) => s.name === "reconcile flaky" && attr(s, "k8s.namespace.name") === ns)
          .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
      await waitFor("the failed reconcile and its retry", () => reconciles().length === 2);
      await stop();
      const [failed, retried] = reconciles();
      assert.ok(failed && retried);
      assert.equal(attr(failed, "kindwatch.reconcile.result"), "error");
      assert.equal(failed.status.code, SpanStatusCode.ERROR);
      assert.equal(failed.status.message, "not yet");
      assert.ok(
        failed.events.some((e) => e.name === "exception"),
        "the error is recorded on the span",
      );
      assert.equal(attr(retried, "kindwatch.reconcile.result"), "success");
      assert.deepEqual(
        retried.links.map((l) => l.context.spanId),
        [failed.spanContext().spanId],
      );
    });

    it("shows a retried call as one CLIENT span with the retry as an event", async () => {
      const proxy = await TcpProxy.start(env.cluster.server);
      const transport = new Transport(throughProxy(adminConfig(env.cluster), proxy));
      try {
        // A fresh transport has no connection yet: the GET's first one is reset, and the read is sent again.
        proxy.resetNext();
        await trace.getTracer("test").startActiveSpan("caller", async (caller) => {
          await transport.json({ path: `/api/v1/namespaces/${env.namespace}` });
          caller.end();
        });
        const caller = spans().find((s) => s.name === "caller");
        assert.ok(caller);
        const [get, ...others] = childrenOf(caller).filter((s) => s.name === "GET namespaces");
        assert.ok(get, "the GET is a child of the active span");
        assert.equal(others.length, 0, "one span for the call, whatever it took");
        assert.equal(attr(get, "http.request.resend_count"), 1);
        assert.equal(attr(get, "http.response.status_code"), 200);
        const retries = get.events.filter((e) => e.name === "retry");
        assert.equal(retries.length, 1);
        assert.equal(retries[0]?.attributes?.["error.type"], "Network");
        assert.equal(retries[0]?.attributes?.["kindwatch.retry.attempt"], 1);
      } finally {
        await transport.close();
        await proxy.close();
      }
    });
  });
});
