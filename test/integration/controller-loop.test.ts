/**
 * The Controller's reconcile loop against the real server: idempotent reconciles, owned and watched kinds reaching the
 * primary, predicates, requeueAfter, retries with backoff, permanent errors, one reconcile per key at a time, shutdown.
 * (Garbage collection of owned objects needs the controller-manager of the full plane: not tested here.)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { SharedInformerFactory } from "../../src/cache/factory.js";
import type { GroupVersionResource } from "../../src/client/gvr.js";
import { DynamicClient } from "../../src/client/resource.js";
import {
  type Controller,
  type ControllerCluster,
  type ControllerOptions,
  controller,
  done,
  EventRecorder,
  generationChanged,
  PermanentError,
  type ReconcileContext,
  type Request,
  requeueAfter,
} from "../../src/controller/index.js";
import { setControllerReference } from "../../src/controller/owner.js";
import { setStatus } from "../../src/controller/status.js";
import { DiscoveryClient } from "../../src/discovery/client.js";
import { RestMapper } from "../../src/discovery/mapper.js";
import type { KubeObject } from "../../src/object/types.js";
import { exponentialRateLimiter } from "../../src/queue/rate-limiters.js";
import {
  type ClientEnv,
  clientEnv,
  configMapsGvr,
  createWidgetCrd,
  namespacesGvr,
  type WidgetKind,
  widget,
} from "../support/client.js";
import { uniqueName, waitFor } from "../support/wait.js";
import { type CountingTransport, countingTransportFor } from "../support/watchall.js";

const secretsGvr: GroupVersionResource = { group: "", version: "v1", resource: "secrets" };
const quiet: Pick<ControllerOptions, "logger"> = { logger: "none" };

/** One reconcile as the test saw it: which key, what the cache held, when it started. */
interface Call {
  readonly key: string;
  readonly object: KubeObject | undefined;
  readonly at: number;
}

describe("Controller reconcile loop", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let counting: CountingTransport;
  let cluster: ControllerCluster;
  const running: { abort: AbortController; done: Promise<void> }[] = [];
  const namespaces: string[] = [];

  /** A namespace of the test's own, so that no other test's objects reach its controller. */
  const freshNamespace = async () => {
    const name = uniqueName("ctrl-loop");
    await env.client.resource(namespacesGvr).create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    namespaces.push(name);
    return name;
  };
  const widgets = (ns: string) => env.client.resource(kind.gvr).namespace(ns);
  const configMaps = (ns: string) => env.client.resource(configMapsGvr).namespace(ns);
  /** Runs `c` until the returned function is called; that function resolves once `run` has. */
  const start = (c: Controller) => {
    const abort = new AbortController();
    const entry = { abort, done: c.run(abort.signal) };
    running.push(entry);
    return async () => {
      abort.abort();
      await entry.done;
    };
  };
  const record = (calls: Call[], req: Request, ctx: ReconcileContext<KubeObject>) =>
    calls.push({ key: `${req.namespace}/${req.name}`, object: ctx.get(req), at: Date.now() });
  const callsOf = (calls: readonly Call[], name: string) => calls.filter((c) => c.key.endsWith(`/${name}`));

  before(async () => {
    env = await clientEnv("ctrl-loop");
    kind = await createWidgetCrd(env.client);
    counting = countingTransportFor(env.cluster.kubeconfigPath);
    const client = new DynamicClient(counting);
    cluster = {
      client,
      informers: new SharedInformerFactory(client, { logger: "none" }),
      mapper: new RestMapper(new DiscoveryClient(counting)),
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
    await counting?.close();
    await kind?.remove();
    await env?.close();
  });

  it("makes the owned ConfigMap once, writes nothing when nothing changed, and sees owned changes and deletes", async () => {
    const ns = await freshNamespace();
    const calls: Call[] = [];
    const c = controller(cluster, { name: "idempotent", namespace: ns, ...quiet })
      .for(kind.gvr)
      .owns(configMapsGvr)
      .reconcile(async (req, ctx) => {
        record(calls, req, ctx);
        const w = ctx.get(req);
        if (!w) return done();
        const wanted = { size: String((w.spec as { size?: number }).size ?? 0) };
        const name = `${req.name}-summary`;
        const current = ctx.cache(configMapsGvr).get(`${ns}/${name}`);
        const target = ctx.client.resource(configMapsGvr).namespace(ns);
        if (!current) {
          const cm: KubeObject = { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns } };
          setControllerReference(w, cm);
          await target.create({ ...cm, data: wanted });
        } else if (JSON.stringify(current.data) !== JSON.stringify(wanted)) {
          await target.patch(name, { data: wanted }, "merge");
        }
        return done();
      });
    const stop = start(c);
    await widgets(ns).create(widget(kind, "first", { size: 3 }));
    await waitFor("the summary ConfigMap", async () => {
      const cm = await configMaps(ns)
        .get("first-summary")
        .catch(() => undefined);
      return cm?.data !== undefined && (cm.data as Record<string, string>).size === "3";
    });
    const cmWrites = () =>
      counting.calls.filter((x) => x.path.includes("/configmaps") && x.method !== "GET" && !x.stream).length;
    const writesBefore = cmWrites();
    const reconcilesBefore = callsOf(calls, "first").length;

    // A label change reconciles again; the ConfigMap is right already, so nothing is written.
    await widgets(ns).patch("first", { metadata: { labels: { touched: "yes" } } }, "merge");
    await waitFor("a reconcile that saw the label", () =>
      callsOf(calls, "first").some((x) => x.object?.metadata.labels?.touched === "yes"),
    );
    assert.ok(callsOf(calls, "first").length > reconcilesBefore);
    assert.equal(cmWrites(), writesBefore, "a reconcile of an unchanged object wrote");

    // Someone edits the owned ConfigMap: the change reaches the owner, which puts it back.
    await configMaps(ns).patch("first-summary", { data: { size: "99" } }, "merge");
    await waitFor("the owner to restore its ConfigMap", async () => {
      const cm = await configMaps(ns).get("first-summary");
      return (cm.data as Record<string, string>).size === "3";
    });

    // A deleted primary still enqueues its key; the reconcile finds it gone.
    await widgets(ns).delete("first");
    await waitFor("a reconcile of the deleted widget", () => {
      const last = callsOf(calls, "first").at(-1);
      return last !== undefined && last.object === undefined;
    });
    await stop();
  });

  it("maps a watched kind to primaries through the function given", async () => {
    const ns = await freshNamespace();
    const calls: Call[] = [];
    const c = controller(cluster, { name: "watches", namespace: ns, ...quiet })
      .for(kind.gvr)
      .watches(secretsGvr, (secret) => {
        const target = secret.metadata.labels?.widget;
        return target ? [{ namespace: ns, name: target }] : [];
      })
      .reconcile(async (req, ctx) => {
        record(calls, req, ctx);
        return done();
      });
    const stop = start(c);
    await widgets(ns).create(widget(kind, "target", { size: 1 }));
    await waitFor("the first reconcile", () => callsOf(calls, "target").length === 1);
    await env.client
      .resource(secretsGvr)
      .namespace(ns)
      .create({ apiVersion: "v1", kind: "Secret", metadata: { name: "creds", labels: { widget: "target" } } });
    await waitFor("the secret to reach its widget", () => callsOf(calls, "target").length >= 2);
    await stop();
  });

  it("with generationChanged, a status-only change does not reconcile; a spec change does", async () => {
    const ns = await freshNamespace();
    const calls: Call[] = [];
    const c = controller(cluster, { name: "predicates", namespace: ns, ...quiet })
      .for(kind.gvr, { predicates: [generationChanged] })
      .reconcile(async (req, ctx) => {
        record(calls, req, ctx);
        return done();
      });
    const stop = start(c);
    const created = await widgets(ns).create(widget(kind, "pred", { size: 1 }));
    await waitFor("the first reconcile", () => callsOf(calls, "pred").length === 1);
    const statusRv = (
      await setStatus(widgets(ns), created, { edit: (w) => Object.assign(w, { status: { phase: "Up" } }) })
    ).metadata.resourceVersion;
    // The spec change comes after the status change in the watch, so once it is reconciled, any reconcile the status
    // change caused has run (it would have been handed to an idle worker at once).
    await widgets(ns).patch("pred", { spec: { size: 2 } }, "merge");
    await waitFor("the spec change's reconcile", () =>
      callsOf(calls, "pred").some((x) => (x.object?.spec as { size?: number } | undefined)?.size === 2),
    );
    const seen = callsOf(calls, "pred").map((x) => x.object?.metadata.resourceVersion);
    assert.ok(!seen.includes(statusRv), `a status-only change was reconciled: ${seen.join(", ")}`);
    assert.equal(
      seen.length,
      2,
      JSON.stringify(callsOf(calls, "pred").map((x) => [x.object?.metadata, x.object?.status])),
    );
    await stop();
  });

  it("honours requeueAfter", async () => {
    const ns = await freshNamespace();
    const calls: Call[] = [];
    const c = controller(cluster, { name: "requeue-after", namespace: ns, ...quiet })
      .for(kind.gvr)
      .reconcile(async (req, ctx) => {
        record(calls, req, ctx);
        return callsOf(calls, req.name).length < 3 ? requeueAfter(300) : done();
      });
    const stop = start(c);
    await widgets(ns).create(widget(kind, "later"));
    await waitFor("three reconciles", () => callsOf(calls, "later").length >= 3, { timeoutMs: 10_000 });
    const at = callsOf(calls, "later").map((x) => x.at);
    for (let i = 1; i < 3; i++) {
      const gap = (at[i] ?? 0) - (at[i - 1] ?? 0);
      assert.ok(gap >= 290, `reconcile ${i + 1} came ${gap} ms after the one before, not after 300 ms`);
    }
    await stop();
  });

  it("retries a failing reconcile with growing delays until it succeeds", async () => {
    const ns = await freshNamespace();
    const calls: Call[] = [];
    const c = controller(cluster, {
      name: "retries",
      namespace: ns,
      rateLimiter: exponentialRateLimiter({ baseMs: 100 }),
      ...quiet,
    })
      .for(kind.gvr)
      .reconcile(async (req, ctx) => {
        record(calls, req, ctx);
        if (callsOf(calls, req.name).length <= 3) throw new Error("the backend is not there yet");
        return done();
      });
    const stop = start(c);
    await widgets(ns).create(widget(kind, "flaky"));
    await waitFor("a successful reconcile", () => c.stats.reconciles - c.stats.errors >= 1, { timeoutMs: 10_000 });
    assert.equal(c.stats.errors, 3);
    const at = callsOf(calls, "flaky").map((x) => x.at);
    assert.equal(at.length, 4);
    // 100, 200, 400 ms: client-go's per-item exponential backoff.
    [100, 200, 400].forEach((wanted, i) => {
      const gap = (at[i + 1] ?? 0) - (at[i] ?? 0);
      assert.ok(gap >= wanted - 10, `retry ${i + 1} came after ${gap} ms, wanted ${wanted}`);
    });
    await stop();
  });

  it("does not retry a PermanentError: records a Warning Event, sets a condition, waits for a spec change", async () => {
    const ns = await freshNamespace();
    const calls: Call[] = [];
    const recorder = new EventRecorder(cluster.client, {
      reportingController: "kindwatch.dev/test",
      reportingInstance: "loop-0",
      logger: "none",
    });
    const c = controller(cluster, {
      name: "permanent",
      namespace: ns,
      recorder,
      rateLimiter: exponentialRateLimiter({ baseMs: 5 }),
      ...quiet,
    })
      .for(kind.gvr, { predicates: [generationChanged] })
      .reconcile(
        async (req, ctx) => {
          record(calls, req, ctx);
          const size = (ctx.get(req)?.spec as { size?: number } | undefined)?.size ?? 0;
          if (size < 0) throw new PermanentError(`size ${size} is negative`, { reason: "InvalidSize" });
          return done();
        },
        {
          onPermanentError: async (err, req, ctx) => {
            const w = ctx.get(req);
            if (!w) return;
            // The Widget schema keeps no conditions; a phase stands in for one.
            await setStatus(ctx.primary, w, { edit: (obj) => Object.assign(obj, { status: { phase: err.reason } }) });
          },
        },
      );
    const stop = start(c);
    await widgets(ns).create(widget(kind, "bad", { size: -1 }));
    await waitFor("the status the handler set", async () => {
      const w = await widgets(ns).get("bad");
      return (w.status as { phase?: string } | undefined)?.phase === "InvalidSize";
    });
    const events = env.client.resource({ group: "events.k8s.io", version: "v1", resource: "events" }).namespace(ns);
    await recorder.flush();
    const warning = await waitFor("the Warning Event", async () =>
      (await events.list()).items.find((e) => e.reason === "InvalidSize"),
    );
    assert.equal(warning.type, "Warning");
    // A retry after 5 ms would have come long before the condition and the Event were written and read back.
    assert.equal(callsOf(calls, "bad").length, 1, "a permanent error was retried");
    assert.equal(c.stats.permanentErrors, 1);

    await widgets(ns).patch("bad", { spec: { size: 2 } }, "merge");
    await waitFor("a reconcile of the fixed spec", () =>
      callsOf(calls, "bad").some((x) => (x.object?.spec as { size?: number } | undefined)?.size === 2),
    );
    assert.equal(c.stats.permanentErrors, 1);
    await stop();
    await recorder.close();
  });

  it("never reconciles one key twice at once, with four workers and many changes", async () => {
    const ns = await freshNamespace();
    const inFlight = new Set<string>();
    const overlaps: string[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const lastSeen = new Map<string, string | undefined>();
    const c = controller(cluster, { name: "one-at-a-time", namespace: ns, concurrency: 4, ...quiet })
      .for(kind.gvr)
      .reconcile(async (req, ctx) => {
        const key = `${req.namespace}/${req.name}`;
        if (inFlight.has(key)) overlaps.push(key);
        inFlight.add(key);
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        try {
          // A slow reconcile, so that changes arrive while the key is in flight.
          await new Promise((r) => setTimeout(r, 30));
          lastSeen.set(req.name, ctx.get(req)?.metadata.labels?.round);
          return done();
        } finally {
          inFlight.delete(key);
          concurrent--;
        }
      });
    const stop = start(c);
    const names = ["a", "b", "c", "d", "e", "f"];
    await Promise.all(names.map((n) => widgets(ns).create(widget(kind, n))));
    const rounds = 15;
    for (let round = 1; round <= rounds; round++) {
      await Promise.all(
        names.map((n) => widgets(ns).patch(n, { metadata: { labels: { round: String(round) } } }, "merge")),
      );
    }
    await waitFor("every widget reconciled at its last round", () =>
      names.every((n) => lastSeen.get(n) === String(rounds)),
    );
    assert.deepEqual(overlaps, []);
    assert.ok(maxConcurrent > 1, `only ${maxConcurrent} reconcile ran at once: the test proves nothing`);
    await stop();
  });

  it("on abort stops taking keys, waits for the reconcile in flight, then resolves run and releases its informers", async () => {
    const ns = await freshNamespace();
    const calls: Call[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let finished = false;
    const c = controller(cluster, { name: "shutdown", namespace: ns, ...quiet })
      .for(kind.gvr)
      .reconcile(async (req, ctx) => {
        record(calls, req, ctx);
        await held;
        finished = true;
        return done();
      });
    const abort = new AbortController();
    const run = c.run(abort.signal);
    running.push({ abort, done: run });
    await widgets(ns).create(widget(kind, "slow"));
    await waitFor("the reconcile in flight", () => calls.length === 1);
    // A key pending behind the one in flight (one worker): queued before the abort, never to start after it.
    await widgets(ns).create(widget(kind, "pending"));
    const informer = await waitFor("the controller's informer to hold the pending widget", () =>
      cluster.informers.informers().find((i) => i.store.get(`${ns}/pending`) !== undefined),
    );
    await informer.idle();
    abort.abort();
    let resolved = false;
    void run.then(() => {
      resolved = true;
    });
    await widgets(ns).create(widget(kind, "late"));
    await widgets(ns).patch("slow", { metadata: { labels: { after: "abort" } } }, "merge");
    assert.equal(resolved, false, "run resolved with a reconcile in flight");
    release();
    await waitFor("run to resolve", () => resolved, { timeoutMs: 5_000 });
    assert.equal(finished, true);
    assert.equal(calls.length, 1, `reconciles started after the abort: ${calls.map((x) => x.key).join(", ")}`);
    const held2 = cluster.informers
      .informers()
      .filter((i) => i.source.description.includes(kind.group) && i.source.description.includes(ns));
    assert.deepEqual(held2, [], "the controller kept its informer");
  });

  it("resolves run when aborted while discovery is still finding the primary's kind", async () => {
    const fresh: ControllerCluster = { ...cluster, mapper: new RestMapper(new DiscoveryClient(counting)) };
    const c = controller(fresh, { name: "early-abort", ...quiet })
      .for(kind.gvr)
      .reconcile(async () => done());
    const abort = new AbortController();
    const run = c.run(abort.signal);
    abort.abort();
    await run;
    assert.deepEqual(c.stats, { reconciles: 0, errors: 0, permanentErrors: 0 });
  });

  it("aborts the reconcile's signal when the drain deadline passes", async () => {
    const ns = await freshNamespace();
    let started = false;
    let signalled = false;
    const c = controller(cluster, { name: "deadline", namespace: ns, drainTimeoutMs: 100, ...quiet })
      .for(kind.gvr)
      .reconcile(async (_req, ctx) => {
        started = true;
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
        signalled = true;
        return done();
      });
    const abort = new AbortController();
    const run = c.run(abort.signal);
    running.push({ abort, done: run });
    await widgets(ns).create(widget(kind, "stuck"));
    await waitFor("the stuck reconcile to start", () => started);
    abort.abort();
    let resolved = false;
    void run.then(() => {
      resolved = true;
    });
    await waitFor("run to resolve after the drain deadline", () => resolved, { timeoutMs: 5_000 });
    assert.equal(signalled, true);
  });
});
