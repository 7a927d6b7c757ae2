/**
 * Managers as real processes (test/support/manager-child.ts) electing on one Lease while running a controller: exactly
 * one reconciles, checked from their JSON logs and from the server (the annotation each writes with server-side apply
 * under its own field manager); a SIGKILLed leader is replaced within the lease duration, a SIGTERMed one at once;
 * reconcile intervals of two processes never overlap. SIGTERM drains a reconcile in flight (or aborts it at the
 * deadline), releases the Lease and exits 0; a second SIGTERM exits at once.
 */
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { ResourceClient } from "../../src/client/resource.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, clientEnv, configMapsGvr, namespacesGvr } from "../support/client.js";
import { uniqueName, waitFor } from "../support/wait.js";

const leaseMs = 3000;
const renewMs = 2000;
const retryMs = 500;
/** The longest wait between two acquire tries: the retry period with client-go's jitter of up to 1.2 times more. */
const maxRetryMs = retryMs * 2.2;
/** Room for process scheduling on a shared machine: added to upper bounds only. */
const slackMs = 1000;

/** The annotation the children write (see manager-child.ts). */
const reconciledBy = "kindwatch.test/reconciled-by";

const childScript = fileURLToPath(new URL("../support/manager-child.js", import.meta.url));

/** One JSON log line of a child (pino's fields plus the manager's). */
interface LogLine {
  readonly level: string;
  readonly time: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A manager process and what it logged. */
class ManagerProcess {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  killedAt: number | undefined;
  other = "";
  readonly #child: ChildProcessWithoutNullStreams;

  constructor(
    readonly id: string,
    env: ClientEnv,
    lease: string,
    mode: "apply" | "slow",
    drainMs: number,
  ) {
    this.#child = spawn(process.execPath, [
      childScript,
      env.cluster.kubeconfigPath,
      env.namespace,
      lease,
      id,
      String(leaseMs),
      String(renewMs),
      String(retryMs),
      mode,
      String(drainMs),
    ]);
    let pending = "";
    this.#child.stderr.on("data", (d: Buffer) => {
      pending += d.toString();
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const p of parts) {
        if (p.startsWith("{")) this.lines.push(JSON.parse(p) as LogLine);
        else this.other += `${p}\n`;
      }
    });
    this.#child.stdout.on("data", (d: Buffer) => {
      this.other += d.toString();
    });
    this.exited = new Promise((resolve) => this.#child.on("close", (code, signal) => resolve({ code, signal })));
  }

  logged(msg: string): LogLine[] {
    return this.lines.filter((l) => l.msg === msg);
  }

  kill(signal: "SIGKILL" | "SIGTERM"): number {
    const at = Date.now();
    if (signal === "SIGKILL") this.killedAt = at;
    this.#child.kill(signal);
    return at;
  }

  /** Its reconcile intervals in epoch ms, from its log; one still open ends now (or when it was killed). */
  reconciles(): [number, number][] {
    const out: [number, number][] = [];
    let start: number | undefined;
    for (const l of this.lines) {
      if (l.msg === "reconcile start") start = l.time;
      if (l.msg === "reconcile end" && start !== undefined) {
        out.push([start, l.time]);
        start = undefined;
      }
    }
    if (start !== undefined) out.push([start, this.killedAt ?? Date.now()]);
    return out;
  }
}

/** Fails when reconcile intervals of two processes overlap. */
function assertNeverTwoReconciling(processes: ManagerProcess[]): void {
  const all = processes.flatMap((p) => p.reconciles().map(([from, to]) => ({ id: p.id, from, to })));
  all.sort((a, b) => a.from - b.from);
  let latest = all[0];
  for (const next of all.slice(1)) {
    assert.ok(latest);
    if (next.id !== latest.id) {
      assert.ok(
        next.from >= latest.to,
        `${next.id} reconciled from ${next.from} while ${latest.id} reconciled until ${latest.to}`,
      );
    }
    if (next.to >= latest.to) latest = next;
  }
}

/** The field managers that server-side applied to `obj`. */
function appliers(obj: KubeObject): string[] {
  const fields = (obj.metadata.managedFields ?? []) as { manager?: string; operation?: string }[];
  return fields
    .filter((f) => f.operation === "Apply")
    .map((f) => f.manager ?? "")
    .sort();
}

describe("Manager processes with leader election", () => {
  let env: ClientEnv;
  let configMaps: ResourceClient;
  let leases: ResourceClient;
  before(async () => {
    env = await clientEnv("mgr-election");
    configMaps = env.client.resource(configMapsGvr).namespace(env.namespace);
    leases = env.client
      .resource({ group: "coordination.k8s.io", version: "v1", resource: "leases" })
      .namespace(env.namespace);
  });
  after(() => env?.close());

  /** A namespace for one test, so that its ConfigMaps reach only its processes. */
  const freshEnv = async (): Promise<ClientEnv> => {
    const namespace = uniqueName("mgr-election");
    await env.client
      .resource(namespacesGvr)
      .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    return { ...env, namespace, close: async () => {} };
  };

  it("one of three reconciles; a killed leader is replaced after its lease, a stopped one at once; never two", async () => {
    const names = ["p1", "p2", "p3"];
    for (const name of names) {
      await configMaps.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: env.namespace } });
    }
    const lease = uniqueName("lease");
    // Every value the annotation took on each ConfigMap, in order, from a watch started before any process.
    const history = new Map<string, string[]>(names.map((n) => [n, []]));
    const watching = new AbortController();
    const watch = (async () => {
      for await (const e of configMaps.watch({ signal: watching.signal })) {
        if (e.type !== "ADDED" && e.type !== "MODIFIED") continue;
        const seen = history.get(e.object.metadata.name ?? "");
        const by = e.object.metadata.annotations?.[reconciledBy];
        if (seen && by && seen.at(-1) !== by) seen.push(by);
      }
    })().catch(() => {});
    const processes = ["a", "b", "c"].map((id) => new ManagerProcess(id, env, lease, "apply", 5000));
    const reconcilers = () => processes.filter((p) => p.logged("reconcile end").length > 0);
    const allBy = (id: string) => names.every((n) => history.get(n)?.at(-1) === id);
    try {
      const first = await waitFor("a process to reconcile", () => reconcilers()[0]);
      await waitFor(`every ConfigMap annotated by ${first.id}`, () => allBy(first.id));
      // It keeps reconciling (every 200 ms) while the other two only stand by.
      const endsBefore = first.logged("reconcile end").length;
      await waitFor("six more reconciles by the leader", () => first.logged("reconcile end").length >= endsBefore + 6);
      assert.deepEqual(
        reconcilers().map((p) => p.id),
        [first.id],
      );
      for (const name of names) assert.deepEqual(appliers(await configMaps.get(name)), [first.id], name);

      const killedAt = first.kill("SIGKILL");
      await first.exited;
      const second = await waitFor("another process to reconcile after the SIGKILL", () =>
        reconcilers().find((p) => p !== first),
      );
      const secondAt = second.logged("reconcile start")[0]?.time ?? 0;
      assert.ok(
        secondAt - killedAt <= leaseMs + 2 * maxRetryMs + slackMs,
        `reconciled ${secondAt - killedAt} ms after the kill`,
      );
      await waitFor(`every ConfigMap annotated by ${second.id}`, () => allBy(second.id));

      const termAt = second.kill("SIGTERM");
      assert.deepEqual(await second.exited, { code: 0, signal: null }, second.other);
      const third = await waitFor("the last process to reconcile after the SIGTERM", () =>
        reconcilers().find((p) => p !== first && p !== second),
      );
      const thirdAt = third.logged("reconcile start")[0]?.time ?? 0;
      assert.ok(thirdAt - termAt <= maxRetryMs + slackMs, `reconciled ${thirdAt - termAt} ms after the SIGTERM`);
      assert.equal(second.logged("leader election: released the lease").length, 1);
      await waitFor(`every ConfigMap annotated by ${third.id}`, () => allBy(third.id));

      assertNeverTwoReconciling(processes);
      // From the server: each ConfigMap was annotated by the three leaders in turn, never back and forth.
      for (const name of names) assert.deepEqual(history.get(name), [first.id, second.id, third.id], name);
      for (const name of names) assert.deepEqual(appliers(await configMaps.get(name)), [third.id], name);
    } finally {
      for (const p of processes) if (!p.killedAt) p.kill("SIGTERM");
      await Promise.all(processes.map((p) => p.exited));
      watching.abort();
      await watch;
    }
    assert.deepEqual(
      processes.map((p) => p.logged("exit").length),
      processes.map((p) => (p.killedAt ? 0 : 1)),
      processes.map((p) => p.other).join(""),
    );
    assert.equal(leaseHolder(await leases.get(lease)), "", "the last leader released the Lease");
  });

  it("on SIGTERM finishes the reconcile in flight, then releases the Lease and exits 0", async () => {
    const local = await freshEnv();
    const lease = uniqueName("lease");
    await env.client
      .resource(configMapsGvr)
      .namespace(local.namespace)
      .create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "slow", namespace: local.namespace } });
    const p = new ManagerProcess("drainer", local, lease, "slow", 30_000);
    const start = await waitFor("the reconcile to start", () => p.logged("reconcile start")[0]);
    const termAt = p.kill("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null }, p.other);
    const end = p.logged("reconcile end")[0];
    assert.ok(end, "the reconcile finished");
    assert.equal(end.aborted, false, "it was not aborted");
    assert.ok(end.time - start.time >= 2900, "it ran its full length");
    assert.ok(end.time >= termAt);
    const released = p.logged("leader election: released the lease")[0];
    assert.ok(released && released.time >= end.time, "the Lease was released after the reconcile ended");
    const leasesHere = env.client
      .resource({ group: "coordination.k8s.io", version: "v1", resource: "leases" })
      .namespace(local.namespace);
    assert.equal(leaseHolder(await leasesHere.get(lease)), "");
  });

  it("on SIGTERM aborts a reconcile still running at the drain deadline, releases the Lease and exits 0", async () => {
    const local = await freshEnv();
    const lease = uniqueName("lease");
    await env.client
      .resource(configMapsGvr)
      .namespace(local.namespace)
      .create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "slow", namespace: local.namespace } });
    const p = new ManagerProcess("deadline", local, lease, "slow", 200);
    await waitFor("the reconcile to start", () => p.logged("reconcile start")[0]);
    const termAt = p.kill("SIGTERM");
    assert.deepEqual(await p.exited, { code: 0, signal: null }, p.other);
    const end = p.logged("reconcile end")[0];
    assert.ok(end, "the reconcile returned");
    assert.equal(end.aborted, true, "its signal aborted at the deadline");
    assert.ok(end.time - termAt < 1000, `aborted ${end.time - termAt} ms after the SIGTERM`);
    const leasesHere = env.client
      .resource({ group: "coordination.k8s.io", version: "v1", resource: "leases" })
      .namespace(local.namespace);
    assert.equal(leaseHolder(await leasesHere.get(lease)), "");
  });

  it("exits at once with code 1 on a second SIGTERM while draining", async () => {
    const local = await freshEnv();
    const lease = uniqueName("lease");
    await env.client
      .resource(configMapsGvr)
      .namespace(local.namespace)
      .create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "slow", namespace: local.namespace } });
    const p = new ManagerProcess("impatient", local, lease, "slow", 30_000);
    await waitFor("the reconcile to start", () => p.logged("reconcile start")[0]);
    p.kill("SIGTERM");
    // Signals sent together may arrive as one: the second goes once the first was handled.
    await waitFor("the drain to begin", () => p.logged("manager: stopping, draining reconciles in flight")[0]);
    p.kill("SIGTERM");
    assert.deepEqual(await p.exited, { code: 1, signal: null }, p.other);
    assert.deepEqual(p.logged("reconcile end"), [], "it did not wait for the reconcile");
  });
});

function leaseHolder(lease: KubeObject): string {
  return (lease.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? "";
}
