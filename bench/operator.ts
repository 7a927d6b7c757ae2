/**
 * The operator benchmark: the figures of issue 15's note, with `kindwatch operator` and `kindwatch gateway` as processes
 * of their own (as the chart runs them) and the stand-in model behind the gateway.
 *
 *   ready_ms_p50, ready_ms_p99: from starting `kubectl apply -f -` (the real kubectl 1.35, test/support/kubectl.ts) of
 *   an AIModelBinding whose profile exists, to the first watch event that shows it Ready for its generation; one at a
 *   time, N objects (50). ready_after_added_ms_*: from the same watch's ADDED event of the object (kubectl's start-up
 *   and the API server's write left out: the operator's share).
 *   limit_enforced_ms: from sending a merge patch of a binding's rate limit (kindwatch's client) to the first answer
 *   of the gateway that carries the new limit (x-ratelimit-limit-requests), requests sent back to back from one loop;
 *   limit_live_ms: to the first `/admin/v1/state` that shows the route at the patched generation (polled back to back);
 *   median over R changes (9). rss_bytes: the operator's and the gateway's resident set (VmRSS) once M bindings
 *   (1,000) are Ready (median of 5 samples, a second apart), and the same before the first was made (`idle_`); neither
 *   process exposes its heap, so RSS only. operator_cpu_ms_per_binding: the operator's user + system CPU from the first
 *   of the M creates to the last Ready, over M.
 */

import { writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Cluster, connect } from "../src/connect.js";
import type { KubeObject } from "../src/object/types.js";
import { aiApiVersion, aiResources } from "../src/operator/types.js";
import { GatewayProcess } from "../test/support/gateway.js";
import { kubectl } from "../test/support/kubectl.js";
import { OpenAIUpstream } from "../test/support/openai-upstream.js";
import { installOperatorCrds, OperatorProcess } from "../test/support/operator.js";
import { processTempDir } from "../test/support/tempdir.js";
import { waitFor } from "../test/support/wait.js";
import { benchCluster } from "./support/cluster.js";
import { describeMachine, machineLines } from "./support/machine.js";
import { cpuSeconds } from "./support/proc.js";
import { type Results, resultLine, table } from "./support/report.js";
import { median, percentile, range } from "./support/stats.js";

const ours = "kindwatch";
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Status {
  observedGeneration?: number;
  conditions?: { type: string; status: string }[];
}

function isReady(o: KubeObject): boolean {
  const status = (o as { status?: Status }).status;
  return (
    status?.observedGeneration === o.metadata.generation &&
    status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true
  );
}

/** When (performance.now()) one watch first saw each binding, and first saw it Ready for a generation. */
class ReadyWatch {
  readonly addedAt = new Map<string, number>();
  readonly readyAt = new Map<string, number>();
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;

  constructor(cluster: Cluster, namespace: string, resourceVersion: string) {
    const api = cluster.client.resource(aiResources.bindings).namespace(namespace);
    this.#done = (async () => {
      try {
        for await (const e of api.watch({ resourceVersion, signal: this.#abort.signal })) {
          if (e.type === "ADDED") this.addedAt.set(e.object.metadata.name ?? "", performance.now());
          if ((e.type === "ADDED" || e.type === "MODIFIED") && isReady(e.object)) {
            const name = e.object.metadata.name ?? "";
            if (!this.readyAt.has(`${name}/${e.object.metadata.generation}`)) {
              this.readyAt.set(`${name}/${e.object.metadata.generation}`, performance.now());
            }
          }
        }
      } catch (err) {
        if (!this.#abort.signal.aborted) throw err;
      }
    })();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#done.catch(() => {});
  }
}

/** VmRSS of `pid` in bytes. */
async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

function binding(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: aiApiVersion, kind: "AIModelBinding", metadata: { name }, spec } as KubeObject;
}

/** `npm run bench -- operator [--objects N] [--changes R] [--bindings M]`. */
export async function operatorBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      objects: { type: "string", default: "50" },
      changes: { type: "string", default: "9" },
      bindings: { type: "string", default: "1000" },
    },
  });
  const objects = Number(values.objects);
  const changes = Number(values.changes);
  const many = Number(values.bindings);
  const bench = await benchCluster(log);
  const cluster = connect({ kubeconfig: bench.kubeconfigPath, env: {} });
  const ns = `bench-operator-${process.pid}`;
  let gateway: GatewayProcess | undefined;
  let upstream: OpenAIUpstream | undefined;
  let operator: OperatorProcess | undefined;
  try {
    const machine = await describeMachine(cluster.transport);
    await installOperatorCrds(cluster.client, cluster.mapper);
    await cluster.client
      .resource({ group: "", version: "v1", resource: "namespaces" })
      .create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    [gateway, upstream] = await Promise.all([
      GatewayProcess.start({ flags: ["--access-log=false"] }),
      OpenAIUpstream.start("model"),
    ]);
    const tokenFile = join(processTempDir("kindwatch-bench-operator"), "gateway-token");
    writeFileSync(tokenFile, `${gateway.token}\n`, { mode: 0o600 });
    operator = await OperatorProcess.start(
      [
        "operator",
        "--gateway-admin-url",
        gateway.adminUrl,
        "--gateway-token-file",
        tokenFile,
        "--metrics-listen",
        "127.0.0.1:0",
        "--namespace",
        ns,
        "--service-url-template",
        `${upstream.url}/{namespace}/{name}/{port}`,
      ],
      bench.kubeconfigPath,
    );
    const pids = { operator: operator.cli.child.pid ?? 0, gateway: gateway.cli.child.pid ?? 0 };
    const idle = { operator: await rss(pids.operator), gateway: await rss(pids.gateway) };
    const bindings = cluster.client.resource(aiResources.bindings).namespace(ns);
    await cluster.client
      .resource({ group: "", version: "v1", resource: "secrets" })
      .namespace(ns)
      .create({ apiVersion: "v1", kind: "Secret", metadata: { name: "keys" }, data: { a: "c2stYQ==" } } as KubeObject);
    await cluster.client
      .resource(aiResources.profiles)
      .namespace(ns)
      .create({
        apiVersion: aiApiVersion,
        kind: "LLMInvocationProfile",
        metadata: { name: "assistant" },
        spec: { model: "m", context: { protocol: "chat", systemPrompt: "Be brief." } },
      } as KubeObject);
    const spec = (path: string) => ({
      target: { url: upstream?.url },
      provider: "openai",
      model: "m",
      routes: [{ path }],
      authentication: { secretRef: { name: "keys" } },
      profileRef: { name: "assistant" },
    });

    // (a) kubectl apply to Ready, one object at a time.
    log(`(a) kubectl apply of ${objects} AIModelBindings, one at a time, to Ready`);
    const watch = new ReadyWatch(cluster, ns, (await bindings.list()).metadata.resourceVersion ?? "");
    const fromStart: number[] = [];
    const fromAdded: number[] = [];
    try {
      for (let i = 0; i < objects; i++) {
        const name = `apply-${i}`;
        const manifest = JSON.stringify({ ...binding(name, spec(`/apply-${i}`)), metadata: { name, namespace: ns } });
        const started = performance.now();
        await kubectl(bench.kubeconfigPath, ["apply", "-f", "-"], { input: manifest });
        const { at } = await waitFor(
          `${name} Ready`,
          () => {
            const t = watch.readyAt.get(`${name}/1`);
            return t === undefined ? undefined : { at: t };
          },
          { timeoutMs: 30_000, intervalMs: 1 },
        );
        fromStart.push(at - started);
        fromAdded.push(at - (watch.addedAt.get(name) ?? Number.NaN));
      }
    } finally {
      await watch.stop();
    }

    // (b) a rate-limit change to the gateway enforcing it.
    log(`(b) ${changes} rate-limit changes`);
    await bindings.create(
      binding("limited", {
        ...spec("/limited"),
        authentication: undefined,
        rateLimit: { requestsPerSecond: 1000, burst: 100 },
      }),
    );
    await waitFor("limited Ready", async () => isReady(await bindings.get("limited")), { timeoutMs: 30_000 });
    const enforced: number[] = [];
    const live: number[] = [];
    for (let i = 0; i < changes; i++) {
      const burst = 101 + i;
      let stop = false;
      let patchedAt = Number.POSITIVE_INFINITY;
      let seen: number | undefined;
      let generation = Number.POSITIVE_INFINITY;
      let liveAt: number | undefined;
      const requests = (async () => {
        while (!stop) {
          const answer = await gateway.call("/limited/x");
          if (seen === undefined && answer.headers["x-ratelimit-limit-requests"] === String(burst)) {
            seen = performance.now();
          }
        }
      })();
      const admin = (async () => {
        while (!stop) {
          const state = (await gateway.state()) as { routes: { name: string; source: { generation: number } }[] };
          const route = state.routes.find((r) => r.name === `amb.${ns}.limited.0`);
          if (liveAt === undefined && (route?.source.generation ?? 0) >= generation) liveAt = performance.now();
        }
      })();
      try {
        await new Promise((r) => setTimeout(r, 200));
        patchedAt = performance.now();
        const patched = await bindings.patch(
          "limited",
          { spec: { rateLimit: { requestsPerSecond: 1000, burst } } },
          "merge",
        );
        generation = patched.metadata.generation ?? 0;
        await waitFor("the new limit", () => seen !== undefined && liveAt !== undefined, {
          timeoutMs: 10_000,
          intervalMs: 1,
        });
      } finally {
        stop = true;
        await Promise.all([requests, admin]);
      }
      enforced.push((seen ?? 0) - patchedAt);
      live.push((liveAt ?? 0) - patchedAt);
    }

    // (c) memory with M bindings Ready.
    log(`(c) ${many} AIModelBindings to Ready`);
    const made = performance.now();
    const cpuBefore = await cpuSeconds([pids.operator]);
    for (let i = 0; i < many; i += 16) {
      await Promise.all(
        Array.from({ length: Math.min(16, many - i) }, (_, j) =>
          bindings.create(binding(`many-${i + j}`, spec(`/many-${i + j}`))),
        ),
      );
    }
    await waitFor(
      `${many} bindings Ready`,
      async () => {
        const list = await bindings.list();
        return list.items.filter((o) => o.metadata.name?.startsWith("many-") && isReady(o)).length === many;
      },
      { timeoutMs: 180_000, intervalMs: 1000 },
    );
    const allReadyS = (performance.now() - made) / 1000;
    const cpuMsPerBinding = (((await cpuSeconds([pids.operator])) - cpuBefore) * 1000) / many;
    // Sampled once a second for 5 s after the last Ready: the operator's status writes and the monitor's polls go on.
    const samples = { operator: [] as number[], gateway: [] as number[] };
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      samples.operator.push(await rss(pids.operator));
      samples.gateway.push(await rss(pids.gateway));
    }
    const loaded = { operator: median(samples.operator), gateway: median(samples.gateway) };

    const results: Results = {
      [ours]: {
        ready_ms_p50: median(fromStart),
        ready_ms_p99: percentile(fromStart, 99),
        ready_after_added_ms_p50: median(fromAdded),
        ready_after_added_ms_p99: percentile(fromAdded, 99),
        limit_enforced_ms: median(enforced),
        limit_live_ms: median(live),
        operator_rss_bytes: loaded.operator,
        operator_idle_rss_bytes: idle.operator,
        gateway_rss_bytes: loaded.gateway,
        gateway_idle_rss_bytes: idle.gateway,
        bindings_ready_s: allReadyS,
        operator_cpu_ms_per_binding: cpuMsPerBinding,
      },
    };
    const ms = (v: number) => v.toFixed(0);
    const mib = (v: number) => (v / 2 ** 20).toFixed(1);
    const mibSpread = (v: number[]) => `${mib(range(v).min)}–${mib(range(v).max)}`;
    const spread = (v: number[]) => `${ms(range(v).min)}–${ms(range(v).max)}`;
    console.log(machineLines(machine).join("\n"));
    console.log(
      table([
        ["figure", "median / value", "spread (min–max)", "n"],
        ["kubectl apply → Ready, p50 (ms)", ms(median(fromStart)), spread(fromStart), String(objects)],
        ["kubectl apply → Ready, p99 (ms)", ms(percentile(fromStart, 99)), "", String(objects)],
        ["watch ADDED → Ready, p50 (ms)", ms(median(fromAdded)), spread(fromAdded), String(objects)],
        ["watch ADDED → Ready, p99 (ms)", ms(percentile(fromAdded, 99)), "", String(objects)],
        ["limit patch → enforced (ms)", ms(median(enforced)), spread(enforced), String(changes)],
        ["limit patch → admin state (ms)", ms(median(live)), spread(live), String(changes)],
        [`operator RSS, ${many} Ready (MiB)`, mib(loaded.operator), mibSpread(samples.operator), "5"],
        ["operator RSS, idle (MiB)", mib(idle.operator), "", "1"],
        [`gateway RSS, ${many} bindings' routes (MiB)`, mib(loaded.gateway), mibSpread(samples.gateway), "5"],
        ["gateway RSS, idle (MiB)", mib(idle.gateway), "", "1"],
        [`${many} bindings created → all Ready (s)`, allReadyS.toFixed(1), "", "1"],
        ["operator CPU per binding to Ready (ms)", cpuMsPerBinding.toFixed(2), "", String(many)],
      ]),
    );
    console.log(resultLine("operator", results, ours, []));
  } finally {
    await operator?.kill("SIGTERM");
    await Promise.all([gateway?.stop(), upstream?.stop()]);
    if (!bench.owned) {
      await cluster.client
        .resource({ group: "", version: "v1", resource: "namespaces" })
        .delete(ns)
        .catch(() => {});
    }
    await cluster.close();
    await bench.stop();
  }
}
