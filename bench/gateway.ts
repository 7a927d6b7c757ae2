/**
 * The gateway benchmark: what `kindwatch gateway` adds in front of an OpenAI-compatible upstream, against calling the
 * upstream directly and against nginx as a plain reverse proxy, all three in the same run on the same upstream.
 *
 *   added_us_p50, added_us_p99: a path's latency percentiles minus the direct path's, same run, at a fixed moderate
 *   rate (bench/gateway-child.ts: open loop, each request timed by the client itself); ttft_added_us_p50/p99: the
 *   same for the first byte of SSE streams (time to first token). us_per_request: the proxy's CPU (user + system from
 *   /proc: the gateway's process; nginx's master and worker) over the requests wrk completed at saturation;
 *   us_per_request_at_rate: the same over the fixed-rate phase.
 *
 * Upstreams: non-streamed completions from a static nginx (default) or the node:http upstream, streams from the
 * node:http upstream (bench/support/openai-upstream.ts), each its own process, started once. Per run, a fresh gateway
 * (configured through its admin API: a key set with one key, two routes, no limits) and a fresh nginx proxy; the three
 * paths measured one after another, the first rotating from run to run.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cliPath } from "../test/support/cli.js";
import { call } from "../test/support/gateway.js";
import { waitFor } from "../test/support/wait.js";
import { ChildSession, runChild } from "./support/child.js";
import { describeHost, machineLines } from "./support/machine.js";
import { Nginx, nginxVersion, proxyConfig, staticConfig } from "./support/nginx.js";
import { completionBody } from "./support/openai-upstream.js";
import { cpuSeconds } from "./support/proc.js";
import { type Results, resultLine, table } from "./support/report.js";
import { median, range } from "./support/stats.js";
import { runWrk, type WrkReport, wrkScript } from "./support/wrk.js";

const ours = "kindwatch";
const peer = "nginx";
const direct = "direct";
const paths = [direct, ours, peer] as const;
type PathName = (typeof paths)[number];
const clientScript = fileURLToPath(new URL("./gateway-child.js", import.meta.url));
const upstreamScript = fileURLToPath(new URL("./support/openai-upstream.js", import.meta.url));

/** The request every path gets: a small chat completion, with the gateway's key (the others pass it along). */
const chatBody = JSON.stringify({ model: "bench-model", messages: [{ role: "user", content: "Say hello." }] });
const streamBody = JSON.stringify({
  model: "bench-model",
  stream: true,
  messages: [{ role: "user", content: "Say hello." }],
});
const chatPath = "/v1/chat/completions";
/** Streams go under their own prefix so that each proxy can send them to the streaming upstream. */
const streamPath = "/stream/v1/chat/completions";

/** What a fixed-rate client run reports (bench/gateway-child.ts). */
interface Paced {
  readonly requests: number;
  readonly ok: number;
  readonly errors: number;
  readonly p50_us: number;
  readonly p99_us: number;
  readonly lag_p99_us: number;
}

function isPaced(v: unknown): v is Paced {
  const r = v as Record<string, unknown> | null;
  return ["requests", "ok", "errors", "p50_us", "p99_us", "lag_p99_us"].every((k) => typeof r?.[k] === "number");
}

/** One path's measurements in one run. */
interface Sample {
  readonly json: Paced;
  readonly stream: Paced;
  readonly wrk: WrkReport;
  /** The proxy's CPU seconds during the fixed-rate phase and during wrk; 0 for the direct path. */
  readonly rateCpu: number;
  readonly saturationCpu: number;
  /** The non-streaming upstream's CPU seconds during wrk. */
  readonly upstreamCpu: number;
}

/** A path under test: where to send requests, and which processes are its proxy. */
interface Target {
  readonly base: { readonly json: string; readonly stream: string };
  readonly pids: () => Promise<number[]>;
}

/** Gives a gateway a key set with one key and two routes (no limits) through its admin API. */
async function configure(
  admin: string,
  token: string,
  upstreams: { json: string; stream: string },
  keyHash: string,
): Promise<void> {
  const put = async (kind: string, spec: { name: string; [field: string]: unknown }) => {
    const answer = await call(`${admin}/admin/v1/${kind}/${spec.name}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(spec),
    });
    if (answer.status !== 200) throw new Error(`PUT ${kind}/${spec.name}: ${answer.status} ${answer.text}`);
  };
  const source = (uid: string) => ({ uid, generation: 1 });
  await put("keysets", { name: "bench", source: source("ks"), keys: [{ id: "bench", sha256: keyHash }] });
  for (const [name, prefix, upstream] of [
    ["chat", "/v1/", upstreams.json],
    ["stream", "/stream/", upstreams.stream],
  ] as const) {
    await put("routes", {
      name,
      source: source(name),
      match: { pathPrefix: prefix },
      upstreams: [{ url: upstream, kind: "openai" }],
      auth: { keySet: "bench" },
    });
  }
}

/**
 * `kindwatch gateway` (the bundled command, as users run it) in a process of its own, configured through its admin
 * API; with `profileDir`, under `node --cpu-prof` (a flag NODE_OPTIONS does not take).
 */
async function startGateway(
  upstreams: { json: string; stream: string },
  keyHash: string,
  profileDir: string | undefined,
): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "kindwatch-bench-gateway-"));
  const token = randomBytes(16).toString("hex");
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const nodeArgs = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  const args = ["gateway", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--admin-token-file", tokenFile];
  const child = spawn(process.execPath, [...nodeArgs, cliPath, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-8000);
  });
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const code = await exited;
    rmSync(dir, { recursive: true, force: true });
    return code;
  };
  try {
    const line = /gateway listening on (\S+), admin API on (\S+), boot id/;
    const found = await waitFor("the gateway to listen", () => {
      if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}: ${stderr}`);
      return line.exec(stderr) ?? undefined;
    });
    const url = found[1] as string;
    await configure(found[2] as string, token, upstreams, keyHash);
    await waitFor("the gateway to be ready", async () => (await call(`${url}/readyz`)).status === 200);
    return {
      url,
      pid: child.pid as number,
      stop: async () => {
        const code = await stop("SIGTERM");
        // 143: the command exits 128 + SIGTERM once it has drained.
        if (code !== 143 && code !== 0) throw new Error(`the gateway exited with ${code}: ${stderr}`);
      },
    };
  } catch (err) {
    await stop("SIGKILL");
    throw err;
  }
}

function positive(name: string, text: string | undefined, whole = false): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (whole && !Number.isInteger(n))) {
    throw new Error(`--${name} must be a positive ${whole ? "whole " : ""}number, not ${text}`);
  }
  return n;
}

/** Runs the gateway benchmark; prints the table, then the JSON line. */
export async function gatewayBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: "string", default: "10" },
      connections: { type: "string", default: "32" },
      rate: { type: "string", default: "500" },
      "stream-rate": { type: "string", default: "100" },
      runs: { type: "string", default: "5" },
      chunks: { type: "string", default: "16" },
      "gap-ms": { type: "string", default: "5" },
      upstream: { type: "string", default: "nginx" },
      "cpu-prof": { type: "string" },
    },
  });
  const duration = positive("duration", values.duration, true);
  const connections = positive("connections", values.connections, true);
  const rate = positive("rate", values.rate);
  const streamRate = positive("stream-rate", values["stream-rate"]);
  const runs = positive("runs", values.runs, true);
  const chunks = positive("chunks", values.chunks, true);
  const gapMs = Number(values["gap-ms"]);
  if (!Number.isFinite(gapMs) || gapMs < 0) throw new Error(`--gap-ms must be a number >= 0, not ${values["gap-ms"]}`);
  if (values.upstream !== "nginx" && values.upstream !== "node") {
    throw new Error(`--upstream must be nginx or node, not ${values.upstream}`);
  }
  const log = (line: string) => console.error(line);
  const loadAtStart = loadavg()[0] ?? 0;
  const machine = describeHost("none (no server needed)");
  const key = `sk-bench-${randomBytes(12).toString("hex")}`;
  const keyHash = createHash("sha256").update(key).digest("hex");
  const dir = mkdtempSync(join(tmpdir(), "kindwatch-bench-wrk-"));
  const script = await wrkScript(dir, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: chatBody,
  });

  const node = new ChildSession(process.execPath, [upstreamScript, "--chunks", String(chunks), "--gap-ms", `${gapMs}`]);
  const stopping: (() => Promise<void>)[] = [
    async () => rmSync(dir, { recursive: true, force: true }),
    () => node.stop(),
  ];
  try {
    const started = await node.next(20_000);
    const nodeUrl = String(started.url);
    let jsonUpstream = nodeUrl;
    let upstreamPids = async () => [Number(started.pid)];
    if (values.upstream === "nginx") {
      const fixed = await Nginx.start((d, port) => staticConfig(d, port, completionBody));
      stopping.push(() => fixed.stop());
      jsonUpstream = fixed.url;
      upstreamPids = () => fixed.pids();
    }
    const upstreams = { json: jsonUpstream, stream: nodeUrl };
    log(`upstreams: ${jsonUpstream} (non-streamed, ${values.upstream}), ${nodeUrl} (streams, node:http)`);

    const samples: Record<PathName, Sample[]> = { direct: [], kindwatch: [], nginx: [] };
    for (let run = 0; run < runs; run++) {
      const profileDir = values["cpu-prof"] && run === 0 ? values["cpu-prof"] : undefined;
      const gateway = await startGateway(upstreams, keyHash, profileDir);
      const proxy = await Nginx.start((d, port) =>
        proxyConfig(d, port, [
          { prefix: "/stream/", upstream: upstreams.stream },
          { prefix: "/", upstream: upstreams.json },
        ]),
      );
      try {
        const targets: Record<PathName, Target> = {
          direct: { base: upstreams, pids: async () => [] },
          kindwatch: { base: { json: gateway.url, stream: gateway.url }, pids: async () => [gateway.pid] },
          nginx: { base: { json: proxy.url, stream: proxy.url }, pids: () => proxy.pids() },
        };
        const order = paths.map((_, i) => paths[(i + run) % paths.length] as PathName);
        for (const path of order) {
          const sample = await measure(targets[path], upstreamPids);
          samples[path].push(sample);
          log(
            `run ${run + 1}/${runs} ${path}: p50 ${us(sample.json.p50_us)} p99 ${us(sample.json.p99_us)}, ` +
              `ttft p50 ${us(sample.stream.p50_us)} p99 ${us(sample.stream.p99_us)}, ` +
              `${Math.round(sample.wrk.requestsPerSecond)} req/s saturated` +
              (path === direct
                ? ""
                : `, ${((sample.saturationCpu / sample.wrk.requests) * 1e6).toFixed(1)} µs CPU/req`),
          );
        }
      } finally {
        await proxy.stop();
        await gateway.stop();
      }
    }
    report(samples, {
      duration,
      connections,
      rate,
      streamRate,
      chunks,
      gapMs,
      upstream: values.upstream,
      machine,
      loadAtStart,
    });
  } finally {
    for (const stop of stopping.reverse()) await stop();
  }

  async function measure(target: Target, upstreamPids: () => Promise<number[]>): Promise<Sample> {
    const pids = await target.pids();
    const json = `${target.base.json}${chatPath}`;
    const stream = `${target.base.stream}${streamPath}`;
    const timeoutMs = (duration + 60) * 1000;
    const paced = async (url: string, mode: "json" | "stream", perSecond: number, body: string) => {
      const args = ["--url", url, "--mode", mode, "--rate", `${perSecond}`, "--seconds", `${duration}`];
      const result = await runChild(
        clientScript,
        [...args, "--body", body, "--authorization", `Bearer ${key}`],
        timeoutMs,
      );
      if (!isPaced(result)) throw new Error(`the client printed ${JSON.stringify(result)}`);
      if (result.errors > 0) throw new Error(`${url}: ${result.errors} of ${result.requests} requests failed`);
      return result;
    };
    // A warm-up: connections opened, the proxy's code compiled, before anything counts.
    await runWrk(json, script, 2, connections);
    const rateStart = await cpuSeconds(pids);
    const jsonPaced = await paced(json, "json", rate, chatBody);
    const rateCpu = (await cpuSeconds(pids)) - rateStart;
    const streamPaced = await paced(stream, "stream", streamRate, streamBody);
    const upstream = await upstreamPids();
    const [satStart, upStart] = [await cpuSeconds(pids), await cpuSeconds(upstream)];
    const wrk = await runWrk(json, script, duration, connections);
    const [saturationCpu, upstreamCpu] = [(await cpuSeconds(pids)) - satStart, (await cpuSeconds(upstream)) - upStart];
    if (wrk.non2xx > 0 || wrk.socketErrors > 0) {
      throw new Error(`${json}: wrk saw ${wrk.non2xx} non-2xx answers and ${wrk.socketErrors} socket errors`);
    }
    return { json: jsonPaced, stream: streamPaced, wrk, rateCpu, saturationCpu, upstreamCpu };
  }
}

function us(value: number): string {
  return `${Math.round(value)} µs`;
}

/** Median and min..max of a figure over the runs, as table cells. */
function cells(values: readonly number[], digits = 0): [string, string] {
  const r = range(values);
  return [median(values).toFixed(digits), `${r.min.toFixed(digits)}..${r.max.toFixed(digits)}`];
}

interface Setup {
  readonly duration: number;
  readonly connections: number;
  readonly rate: number;
  readonly streamRate: number;
  readonly chunks: number;
  readonly gapMs: number;
  readonly upstream: string;
  readonly machine: ReturnType<typeof describeHost>;
  readonly loadAtStart: number;
}

function report(samples: Record<PathName, Sample[]>, setup: Setup): void {
  const runs = samples.direct.length;
  const results: Results = {};
  const latencyRows: string[][] = [
    ["path", "p50 µs", "min..max", "p99 µs", "min..max", "TTFT p50 µs", "min..max", "TTFT p99 µs", "min..max"],
  ];
  const addedRows: string[][] = [
    [
      "path",
      "added p50 µs",
      "min..max",
      "added p99 µs",
      "min..max",
      "TTFT +p50 µs",
      "min..max",
      "TTFT +p99",
      "min..max",
    ],
  ];
  const costRows: string[][] = [
    ["path", "req/s", "min..max", "wrk p50 µs", "wrk p99 µs", "CPU µs/req", "min..max", "at rate", "upstream µs/req"],
  ];
  for (const path of paths) {
    const s = samples[path];
    const pick = (f: (x: Sample) => number) => s.map(f);
    latencyRows.push([
      path,
      ...cells(pick((x) => x.json.p50_us)),
      ...cells(pick((x) => x.json.p99_us)),
      ...cells(pick((x) => x.stream.p50_us)),
      ...cells(pick((x) => x.stream.p99_us)),
    ]);
    const perReq = pick((x) => (x.saturationCpu / x.wrk.requests) * 1e6);
    const atRate = pick((x) => (x.rateCpu / x.json.ok) * 1e6);
    const upstreamPerReq = pick((x) => (x.upstreamCpu / x.wrk.requests) * 1e6);
    costRows.push([
      path,
      ...cells(pick((x) => x.wrk.requestsPerSecond)),
      median(pick((x) => x.wrk.latencyUs.p50)).toFixed(0),
      median(pick((x) => x.wrk.latencyUs.p99)).toFixed(0),
      ...(path === direct ? ["-", "-", "-"] : [...cells(perReq, 1), median(atRate).toFixed(1)]),
      median(upstreamPerReq).toFixed(1),
    ]);
    if (path === direct) {
      results[path] = {
        latency_us_p50: Math.round(median(pick((x) => x.json.p50_us))),
        latency_us_p99: Math.round(median(pick((x) => x.json.p99_us))),
        ttft_us_p50: Math.round(median(pick((x) => x.stream.p50_us))),
        ttft_us_p99: Math.round(median(pick((x) => x.stream.p99_us))),
      };
      continue;
    }
    // Each run's figure minus the direct path's in the same run: the load of that moment falls on both.
    const added = (f: (x: Sample) => number) => s.map((x, i) => f(x) - f(samples.direct[i] as Sample));
    const p50 = added((x) => x.json.p50_us);
    const p99 = added((x) => x.json.p99_us);
    const ttft50 = added((x) => x.stream.p50_us);
    const ttft99 = added((x) => x.stream.p99_us);
    addedRows.push([path, ...cells(p50), ...cells(p99), ...cells(ttft50), ...cells(ttft99)]);
    results[path] = {
      added_us_p50: Math.round(median(p50)),
      added_us_p99: Math.round(median(p99)),
      ttft_added_us_p50: Math.round(median(ttft50)),
      ttft_added_us_p99: Math.round(median(ttft99)),
      us_per_request: Number(median(perReq).toFixed(2)),
      us_per_request_at_rate: Number(median(atRate).toFixed(2)),
    };
  }
  const lag = Math.max(
    ...paths.flatMap((p) => samples[p].map((x) => Math.max(x.json.lag_p99_us, x.stream.lag_p99_us))),
  );
  console.log(
    [
      `gateway: POST ${chatPath} (a small chat completion, ${completionBody.length}-byte answer) and SSE streams of`,
      `            ${setup.chunks} chunks ${setup.gapMs} ms apart; direct, through kindwatch gateway, through nginx`,
      ...machineLines(setup.machine),
      `peers:      nginx ${nginxVersion()} (one worker, upstream keepalive, proxy_buffering off); upstream: ${setup.upstream === "nginx" ? "a static nginx" : "node:http"} (non-streamed), node:http (streams)`,
      `load:       1-minute load average ${setup.loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end`,
      `method:     ${runs} runs, a fresh gateway and nginx per run, paths in rotating order, median (min..max) over runs;`,
      `            fixed rate: ${setup.rate} req/s (streams ${setup.streamRate}/s) for ${setup.duration} s, open loop, timed by a Node.js client`,
      `            (its schedule ran up to ${Math.round(lag)} µs late, p99); saturation: wrk 4.1, 1 thread, ${setup.connections} connections, ${setup.duration} s;`,
      "            CPU: user+system from /proc of the proxy's processes over the requests completed",
      "",
      table(latencyRows),
      "",
      table(addedRows),
      "",
      table(costRows),
      resultLine("gateway", results, ours, [peer]),
    ].join("\n"),
  );
}
