/**
 * The gateway benchmark's fixed-rate client, a process of its own: sends POSTs at `--rate` a second for `--seconds`
 * (open loop: a request goes when its time comes, whether or not the earlier ones have been answered) over a pool of
 * kept-alive connections, and times each one itself from the moment it is sent: to the end of the answer
 * (`--mode json`) or to the first byte of the body (`--mode stream`: an SSE stream's first chunk, time to first token).
 * Prints one JSON line: percentiles in microseconds, counts, and how late the schedule ran (the client's own lag).
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Pool } from "undici";
import { percentile } from "./support/stats.js";

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    rate: { type: "string", default: "500" },
    seconds: { type: "string", default: "10" },
    mode: { type: "string", default: "json" },
    connections: { type: "string", default: "64" },
    body: { type: "string", default: "{}" },
    authorization: { type: "string" },
  },
});
const target = new URL(values.url ?? "");
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const stream = values.mode === "stream";
const headers: Record<string, string> = { "content-type": "application/json" };
if (values.authorization) headers.authorization = values.authorization;
const pool = new Pool(target.origin, { connections: Number(values.connections), keepAliveTimeout: 300_000 });

const latencies: number[] = [];
const lags: number[] = [];
let errors = 0;
let inFlight = 0;

async function one(): Promise<void> {
  inFlight++;
  const sent = performance.now();
  try {
    const answer = await pool.request({ path: target.pathname, method: "POST", headers, body: values.body ?? "{}" });
    let first: number | undefined;
    for await (const _ of answer.body) first ??= performance.now();
    const end = performance.now();
    if (answer.statusCode !== 200 || first === undefined) errors++;
    else latencies.push(((stream ? first : end) - sent) * 1000);
  } catch {
    errors++;
  } finally {
    inFlight--;
  }
}

const total = Math.round(rate * seconds);
const start = performance.now();
let sent = 0;
await new Promise<void>((resolve) => {
  const tick = () => {
    const now = performance.now();
    while (sent < total && start + (sent * 1000) / rate <= now) {
      lags.push((now - (start + (sent * 1000) / rate)) * 1000);
      sent++;
      void one();
    }
    if (sent < total) setTimeout(tick, 1);
    else resolve();
  };
  tick();
});
while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
await pool.close();
if (latencies.length === 0) throw new Error(`no request to ${target.href} succeeded (${errors} failed)`);
console.log(
  JSON.stringify({
    requests: sent,
    ok: latencies.length,
    errors,
    p50_us: percentile(latencies, 50),
    p99_us: percentile(latencies, 99),
    lag_p99_us: percentile(lags, 99),
  }),
);
