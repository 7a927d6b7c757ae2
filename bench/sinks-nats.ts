/**
 * The NATS sink benchmark: events per second the JetStream sink delivers to a real nats-server (Debian's, JetStream on
 * file storage, on loopback), each send a batch of `--batch` events resolved on every publish ack, `--inflight` sends
 * at a time (the exporter's batches of distinct keys), `--events` per run into a fresh stream, median of `--runs` after
 * a warm-up run. No cluster: the events are Deployment-shaped CloudEvents (~2 KiB of JSON each) made up front.
 *
 *   events_per_s: events over the wall time from the first send to the last ack (reported as us_per_event, a cost).
 *   cpu_us_per_event: this process's user + system CPU over the events; server_cpu_us_per_event: nats-server's.
 */
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { CloudEvent } from "cloudevents";
import { natsSink } from "../src/sinks/nats.js";
import type { Delivery } from "../src/sinks/types.js";
import { startNats } from "../test/support/nats.js";
import { describeHost, machineLines } from "./support/machine.js";
import { cpuSeconds } from "./support/proc.js";
import { type Results, resultLine, table } from "./support/report.js";
import { median, range } from "./support/stats.js";

function deployment(i: number, run: number): Delivery {
  const uid = `00000000-0000-4000-8000-${String(run).padStart(4, "0")}${String(i).padStart(8, "0")}`;
  const name = `web-${i}`;
  const rv = String(1000 + i);
  const object = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name,
      namespace: "default",
      uid,
      resourceVersion: rv,
      generation: 3,
      creationTimestamp: "2026-01-01T00:00:00Z",
      labels: { app: name, tier: "frontend", "app.kubernetes.io/part-of": "shop" },
      annotations: { "deployment.kubernetes.io/revision": "3", note: "x".repeat(200) },
    },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, tier: "frontend" } },
        spec: {
          containers: [
            {
              name: "web",
              image: "registry.example.com/shop/web:1.2.3",
              ports: [{ containerPort: 8080, protocol: "TCP" }],
              env: Array.from({ length: 8 }, (_, e) => ({
                name: `SETTING_${e}`,
                value: `value-${e}-${"v".repeat(40)}`,
              })),
              resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
            },
          ],
        },
      },
    },
    status: { replicas: 3, readyReplicas: 3, updatedReplicas: 3, availableReplicas: 3, observedGeneration: 3 },
  };
  const event = new CloudEvent<unknown>({
    id: `${uid}/${rv}`,
    type: "dev.kindwatch.object.modified",
    source: "kindwatch://bench/apis/apps/v1/namespaces/default/deployments",
    subject: `default/${name}`,
    time: new Date().toISOString(),
    datacontenttype: "application/json",
    kwgroup: "apps",
    kwversion: "v1",
    kwkind: "Deployment",
    kwresource: "deployments",
    kworigin: "live",
    data: object,
  });
  return { event, key: uid };
}

/** Runs the NATS sink benchmark; prints the table, then the JSON line. */
export async function sinksNatsBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      events: { type: "string", default: "20000" },
      batch: { type: "string", default: "100" },
      inflight: { type: "string", default: "1" },
      runs: { type: "string", default: "5" },
    },
  });
  const events = Number(values.events);
  const batch = Number(values.batch);
  const inflight = Number(values.inflight);
  const runs = Number(values.runs);
  for (const [name, n] of Object.entries({ events, batch, inflight, runs })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${n}`);
  }
  const log = (line: string) => console.error(line);
  const loadAtStart = loadavg()[0] ?? 0;
  const nats = await startNats();
  const rates: number[] = [];
  const cpu: number[] = [];
  const serverCpu: number[] = [];
  let bytes = 0;
  try {
    for (let run = 0; run <= runs; run++) {
      const prefix = `bench${run}`;
      const sink = natsSink({
        servers: nats.url,
        subject: `${prefix}.{group}.{resource}`,
        stream: prefix,
        createStream: true,
      });
      const deliveries = Array.from({ length: events }, (_, i) => deployment(i, run));
      bytes = JSON.stringify(deliveries[0]?.event).length;
      const batches: Delivery[][] = [];
      for (let i = 0; i < events; i += batch) batches.push(deliveries.slice(i, i + batch));
      await sink.send(batches[0]?.slice(0, 1) ?? [], AbortSignal.timeout(30_000));
      const serverPid = nats.pid;
      if (serverPid === undefined) throw new Error("nats-server is not running");
      const serverBefore = await cpuSeconds([serverPid]);
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: inflight }, async () => {
          for (let b = next++; b < batches.length; b = next++) {
            await sink.send(batches[b] ?? [], AbortSignal.timeout(60_000));
          }
        }),
      );
      const wall = (performance.now() - started) / 1000;
      const used = process.cpuUsage(cpuBefore);
      const server = (await cpuSeconds([serverPid])) - serverBefore;
      await sink.close();
      const stored = (await nats.jsm.streams.info(prefix)).state.messages;
      if (stored !== events) throw new Error(`stream ${prefix} holds ${stored} events, not ${events}`);
      await nats.jsm.streams.delete(prefix);
      const rate = events / wall;
      const cpuUs = (used.user + used.system) / events;
      const serverUs = (server * 1e6) / events;
      log(
        `${run === 0 ? "warm-up" : `run ${run}/${runs}`}: ${rate.toFixed(0)} events/s, ` +
          `${cpuUs.toFixed(1)} µs CPU/event, nats-server ${serverUs.toFixed(1)} µs CPU/event`,
      );
      if (run === 0) continue;
      rates.push(rate);
      cpu.push(cpuUs);
      serverCpu.push(serverUs);
    }
  } finally {
    await nats.stop();
  }
  const results: Results = {
    kindwatch: {
      us_per_event: Number((1e6 / median(rates)).toFixed(2)),
      cpu_us_per_event: Number(median(cpu).toFixed(2)),
      server_cpu_us_per_event: Number(median(serverCpu).toFixed(2)),
    },
  };
  const r = range(rates);
  const c = range(cpu);
  const s = range(serverCpu);
  const version = /\bv\d\S*/.exec(execFileSync("nats-server", ["--version"], { encoding: "utf8" }))?.[0];
  console.log(
    [
      `sinks-nats: ${events} events (~${bytes} bytes of JSON each) per run, batches of ${batch}, ${inflight} in flight`,
      ...machineLines(describeHost("none (no cluster needed)")),
      `server:     nats-server ${version ?? "unknown"}, JetStream file storage, loopback`,
      `load:       1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end`,
      `method:     median of ${runs} runs after a warm-up, each into a fresh stream; every send resolved on all its acks`,
      "",
      table([
        ["metric", "median", "min..max"],
        ["events/s", median(rates).toFixed(0), `${r.min.toFixed(0)}..${r.max.toFixed(0)}`],
        ["CPU µs/event (sink)", median(cpu).toFixed(1), `${c.min.toFixed(1)}..${c.max.toFixed(1)}`],
        ["CPU µs/event (nats-server)", median(serverCpu).toFixed(1), `${s.min.toFixed(1)}..${s.max.toFixed(1)}`],
      ]),
      resultLine("sinks-nats", results, "kindwatch"),
    ].join("\n"),
  );
}
