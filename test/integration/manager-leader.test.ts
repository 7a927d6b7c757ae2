/**
 * Leader election on a real Lease: three candidate processes (test/support/leader-child.ts) of which exactly one leads,
 * a SIGKILLed leader replaced once its lease ran out, a SIGTERMed one replaced at once (it released the Lease), never
 * two leaders at once; and a leader cut off from the API server that stops leading within its renew deadline.
 */
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { DynamicClient, type ResourceClient } from "../../src/client/resource.js";
import { loadConfig } from "../../src/config/index.js";
import { Transport } from "../../src/http/index.js";
import { LeaderElector } from "../../src/manager/index.js";
import type { KubeObject } from "../../src/object/types.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import type { CandidateLine } from "../support/leader-child.js";
import { TcpProxy } from "../support/proxy.js";
import { outcome, uniqueName, waitFor } from "../support/wait.js";

const leaseMs = 3000;
const renewMs = 2000;
const retryMs = 500;
/** The longest wait between two acquire tries: the retry period with client-go's jitter of up to 1.2 times more. */
const maxRetryMs = retryMs * 2.2;
/** Room for process scheduling on a shared machine: added to upper bounds only. */
const slackMs = 1000;

const childScript = fileURLToPath(new URL("../support/leader-child.js", import.meta.url));

/** A candidate process and what it printed. */
class Candidate {
  readonly lines: CandidateLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Epoch ms when the test killed it with SIGKILL: the end of any leadership it held. */
  killedAt: number | undefined;
  stderr = "";
  readonly #child: ChildProcessWithoutNullStreams;

  constructor(
    readonly id: string,
    kubeconfig: string,
    namespace: string,
    lease: string,
  ) {
    this.#child = spawn(process.execPath, [
      childScript,
      kubeconfig,
      namespace,
      lease,
      id,
      String(leaseMs),
      String(renewMs),
      String(retryMs),
    ]);
    let pending = "";
    this.#child.stdout.on("data", (d: Buffer) => {
      pending += d.toString();
      const parts = pending.split("\n");
      pending = parts.pop() ?? "";
      for (const p of parts) if (p) this.lines.push(JSON.parse(p) as CandidateLine);
    });
    this.#child.stderr.on("data", (d: Buffer) => {
      this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => this.#child.on("close", (code, signal) => resolve({ code, signal })));
  }

  events(event: CandidateLine["event"]): CandidateLine[] {
    return this.lines.filter((l) => l.event === event);
  }

  kill(signal: "SIGKILL" | "SIGTERM"): number {
    const at = Date.now();
    if (signal === "SIGKILL") this.killedAt = at;
    this.#child.kill(signal);
    return at;
  }

  /** Its leadership intervals in epoch ms; one still open ends now (or when it was killed). */
  intervals(): [number, number][] {
    const out: [number, number][] = [];
    let start: number | undefined;
    for (const l of this.lines) {
      if (l.event === "leading") start = l.t;
      if (l.event === "stopped" && start !== undefined) {
        out.push([start, l.t]);
        start = undefined;
      }
    }
    if (start !== undefined) out.push([start, this.killedAt ?? Date.now()]);
    return out;
  }
}

/** The Lease's spec fields this test follows. */
interface LeaseState {
  readonly holder: string;
  readonly transitions: number;
}

function leaseState(lease: KubeObject): LeaseState {
  const spec = (lease.spec ?? {}) as { holderIdentity?: string; leaseTransitions?: number };
  return { holder: spec.holderIdentity ?? "", transitions: spec.leaseTransitions ?? 0 };
}

/** Fails when two candidates' leadership intervals overlap. */
function assertNeverTwoLeaders(candidates: Candidate[]): void {
  const all = candidates.flatMap((c) => c.intervals().map(([from, to]) => ({ id: c.id, from, to })));
  all.sort((a, b) => a.from - b.from);
  for (let i = 1; i < all.length; i++) {
    const prev = all[i - 1];
    const next = all[i];
    assert.ok(prev && next);
    assert.ok(
      next.from >= prev.to,
      `${next.id} led from ${next.from} while ${prev.id} led until ${prev.to} (${prev.to - next.from} ms overlap)`,
    );
  }
}

describe("LeaderElector", () => {
  let env: ClientEnv;
  let leases: ResourceClient;
  before(async () => {
    env = await clientEnv("leader");
    leases = env.client
      .resource({ group: "coordination.k8s.io", version: "v1", resource: "leases" })
      .namespace(env.namespace);
  });
  after(() => env?.close());

  it("elects one of three processes; a killed leader is replaced after its lease, a stopped one at once", async () => {
    const lease = uniqueName("lease");
    // Every version of the Lease, in order, from a watch started before any candidate.
    const history: (LeaseState & { seenAt: number })[] = [];
    const watching = new AbortController();
    const watch = (async () => {
      for await (const e of leases.watch({ fieldSelector: `metadata.name=${lease}`, signal: watching.signal })) {
        if (e.type === "ADDED" || e.type === "MODIFIED") history.push({ ...leaseState(e.object), seenAt: Date.now() });
      }
    })().catch(() => {});
    const candidates = ["a", "b", "c"].map((id) => new Candidate(id, env.cluster.kubeconfigPath, env.namespace, lease));
    const leaders = () => candidates.filter((c) => c.intervals().some(([, to]) => to >= Date.now() - 1) && !c.killedAt);
    try {
      // Exactly one leads: all three name the same leader, and it renews twice more while the others stand by.
      const first = await waitFor("every candidate to see one leader", () => {
        const seen = candidates.map((c) => c.events("new-leader")[0]?.leader);
        return seen.every((s) => s !== undefined && s === seen[0]) && candidates.find((c) => c.id === seen[0]);
      });
      const renewalsBefore = history.length;
      await waitFor("two more renewals", () => history.length >= renewalsBefore + 2);
      assert.deepEqual(
        candidates.map((c) => c.events("leading").length),
        candidates.map((c) => (c === first ? 1 : 0)),
      );

      // SIGKILL: no release, so the others wait out the lease from when they saw its last renewal.
      const killedAt = first.kill("SIGKILL");
      await first.exited;
      const second = await waitFor("another candidate to lead after the SIGKILL", () =>
        candidates.find((c) => c !== first && c.events("leading").length > 0),
      );
      const tookOver = second.events("leading")[0]?.t ?? 0;
      // The standbys saw the last renewal when this test did, give or take the watch's delivery.
      const lastRenewal = history.findLast((h) => h.holder === first.id)?.seenAt ?? 0;
      assert.ok(
        tookOver - lastRenewal >= leaseMs - 100,
        `took over ${tookOver - lastRenewal} ms after the last renewal: before the lease ran out`,
      );
      assert.ok(
        tookOver - killedAt <= leaseMs + 2 * maxRetryMs + slackMs,
        `took over ${tookOver - killedAt} ms after the kill`,
      );

      // SIGTERM: the leader releases the Lease, so the last candidate takes it at its next try.
      const termAt = second.kill("SIGTERM");
      assert.deepEqual(await second.exited, { code: 0, signal: null });
      const third = await waitFor("the last candidate to lead after the SIGTERM", () =>
        candidates.find((c) => c !== first && c !== second && c.events("leading").length > 0),
      );
      const stoppedAt = second.events("stopped")[0]?.t;
      const thirdAt = third.events("leading")[0]?.t ?? 0;
      assert.ok(stoppedAt !== undefined, "the SIGTERMed leader reported that it stopped");
      assert.ok(thirdAt - termAt <= maxRetryMs + slackMs, `took over ${thirdAt - termAt} ms after the SIGTERM`);
      assert.deepEqual(
        leaders().map((c) => c.id),
        [third.id],
      );

      assertNeverTwoLeaders(candidates);
      // The Lease's history: holders in the order they led, a release in between, one transition per takeover.
      await waitFor("the watch to see the last takeover", () => history.at(-1)?.holder === third.id);
      const holders = history.map((h) => h.holder).filter((h, i, all) => h !== all[i - 1]);
      assert.deepEqual(holders, [first.id, second.id, "", third.id]);
      for (let i = 1; i < history.length; i++) {
        const [prev, next] = [history[i - 1], history[i]];
        assert.ok(prev && next);
        const takeover = next.holder !== "" && next.holder !== prev.holder;
        assert.equal(next.transitions, prev.transitions + (takeover ? 1 : 0), `transitions at version ${i}`);
      }
      assert.equal(history[0]?.transitions, 0);
      assert.equal(history.at(-1)?.transitions, 2);
    } finally {
      for (const c of candidates) if (!c.killedAt) c.kill("SIGTERM");
      await Promise.all(candidates.map((c) => c.exited));
      watching.abort();
      await watch;
    }
    assert.deepEqual(
      candidates.map((c) => c.events("exit").length),
      candidates.map((c) => (c.killedAt ? 0 : 1)),
      candidates.map((c) => c.stderr).join(""),
    );
  });

  it("stops a leader cut off from the API server within the renew deadline, before another takes over", async () => {
    const lease = uniqueName("lease");
    const proxy = await TcpProxy.start(env.cluster.server);
    const viaProxy = new Transport({
      ...loadConfig({ kubeconfig: env.cluster.kubeconfigPath, env: {} }),
      server: proxy.url,
    });
    const stop = new AbortController();
    const timings = {
      leaseDurationMs: leaseMs,
      renewDeadlineMs: renewMs,
      retryPeriodMs: retryMs,
      logger: "none",
    } as const;
    const events: { who: string; event: string; t: number; aborted?: boolean }[] = [];
    let workSignal: AbortSignal | undefined;
    const cutOff = new LeaderElector(new DynamicClient(viaProxy), {
      ...timings,
      namespace: env.namespace,
      name: lease,
      identity: "cut-off",
      onStartedLeading: (signal) => {
        workSignal = signal;
        signal.addEventListener("abort", () => events.push({ who: "cut-off", event: "aborted", t: Date.now() }));
        events.push({ who: "cut-off", event: "leading", t: Date.now() });
      },
      onStoppedLeading: () => {
        events.push({ who: "cut-off", event: "stopped", t: Date.now(), aborted: workSignal?.aborted === true });
      },
    });
    const other = new LeaderElector(env.client, {
      ...timings,
      namespace: env.namespace,
      name: lease,
      identity: "other",
      onStartedLeading: () => {
        events.push({ who: "other", event: "leading", t: Date.now() });
      },
    });
    const cutOffRun = cutOff.run(stop.signal);
    const cutOffDone = outcome(cutOffRun);
    try {
      await waitFor("the first candidate to lead", () => cutOff.isLeader());
      const otherRun = other.run(stop.signal);
      await waitFor("the other candidate to see it lead", () => other.leader() === "cut-off");
      // Requests hang from now on: open connections stop relaying, new ones are never answered.
      proxy.mode = "stall";
      proxy.freeze();
      const cutAt = Date.now();
      await waitFor("the cut-off leader to stop", () => events.some((e) => e.event === "stopped"));
      const stopped = events.find((e) => e.event === "stopped");
      assert.ok(stopped);
      assert.ok(stopped.t - cutAt <= renewMs + 200, `stopped ${stopped.t - cutAt} ms after the cut`);
      assert.equal(stopped.aborted, true, "the work signal aborted before onStoppedLeading");
      assert.equal(cutOff.isLeader(), false);
      await waitFor("run to return after the loss", cutOffDone);
      await waitFor("the other candidate to take over", () => other.isLeader());
      const otherAt = events.find((e) => e.who === "other" && e.event === "leading")?.t ?? 0;
      assert.ok(otherAt >= stopped.t, "the other led only after the cut-off one stopped");
      stop.abort();
      await otherRun;
      const released = leaseState(await leases.get(lease));
      assert.deepEqual(released, { holder: "", transitions: 1 });
    } finally {
      stop.abort();
      await proxy.close();
      await cutOffRun;
      await viaProxy.close();
    }
  });
});
