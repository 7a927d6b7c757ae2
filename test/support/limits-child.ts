/**
 * A gateway replica's share of a limit, as a process of its own: takes from one Redis-backed bucket (or budget) at full
 * speed when told to, then reports what it was granted and the Redis TIME before its first and after its last call.
 *
 *   node limits-child.js '{"url":...,"prefix":...,"mode":"rate"|"budget",...}'   then "go" on stdin
 *
 * `skewMs` moves this process's clock, as a replica on a host whose clock is off.
 */
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { redisLimits } from "../../src/gateway/limits/index.js";

/** What the test asks of a child. */
export interface LimitsChildTask {
  url: string;
  prefix: string;
  mode: "rate" | "budget";
  name: string;
  durationMs: number;
  /** Calls in flight at once. */
  loops: number;
  skewMs?: number;
  rate?: { requestsPerSecond: number; burst: number };
  budget?: { tokensPerMinute: number; reserve: number; use: number; holdMs: number };
}

/** What a child reports. */
export interface LimitsChildReport {
  allowed: number;
  denied: number;
  usedTokens: number;
  start: number;
  end: number;
}

const task = JSON.parse(process.argv[2] ?? "{}") as LimitsChildTask;
if (task.skewMs) {
  const realNow = Date.now;
  Date.now = () => realNow() + (task.skewMs ?? 0);
}
const limits = redisLimits(task.url, { prefix: task.prefix });
const clock = new Redis(task.url);
const time = async () => {
  const [s, us] = await clock.time();
  return Number(s) * 1000 + Number(us) / 1000;
};
await clock.ping();
await limits.rate.take(`${task.name}-warm`, { requestsPerSecond: 1, burst: 1 });
process.stdout.write("ready\n");
const input = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => input.once("line", () => resolve()));
input.close();

const report: LimitsChildReport = { allowed: 0, denied: 0, usedTokens: 0, start: await time(), end: 0 };
const deadline = Date.now() + task.durationMs;
async function loop() {
  while (Date.now() < deadline) {
    if (task.mode === "rate" && task.rate) {
      const d = await limits.rate.take(task.name, task.rate);
      if (d.allowed) report.allowed++;
      else report.denied++;
    } else if (task.budget) {
      const { tokensPerMinute, reserve, use, holdMs } = task.budget;
      const r = await limits.budgets.reserve(task.name, tokensPerMinute, reserve);
      if (!r.ok) {
        report.denied++;
        continue;
      }
      report.allowed++;
      // The answer streams for a while before its real count is known.
      await new Promise((resolve) => setTimeout(resolve, holdMs));
      await r.settle(use);
      report.usedTokens += use;
    }
  }
}
await Promise.all(Array.from({ length: task.loops }, loop));
report.end = await time();
process.stdout.write(`${JSON.stringify(report)}\n`);
await limits.rate.close();
clock.disconnect();
