/**
 * Two gateway replicas, each its own process, sharing one Redis hold one limit: the total they grant is what a single
 * bucket grants over the same Redis time, not twice that. One replica's clock is off by seconds, as on another host.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { LimitsChildReport, LimitsChildTask } from "../support/limits-child.js";
import { startRedis, type TestRedis } from "../support/redis.js";
import { uniqueName } from "../support/wait.js";

const childScript = fileURLToPath(new URL("../support/limits-child.js", import.meta.url));

let redis: TestRedis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

/** Starts one child per task, lets them go together once all are connected, and collects their reports. */
async function replicas(tasks: LimitsChildTask[]): Promise<LimitsChildReport[]> {
  const children = tasks.map((task) => {
    const child = spawn(process.execPath, [childScript, JSON.stringify(task)], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, lines, exited };
  });
  try {
    for (const { lines } of children) assert.equal((await lines.next()).value, "ready");
    for (const { child } of children) child.stdin.end("go\n");
    const reports: LimitsChildReport[] = [];
    for (const { lines } of children) reports.push(JSON.parse(String((await lines.next()).value)) as LimitsChildReport);
    for (const { exited } of children) assert.equal(await exited, 0);
    return reports;
  } finally {
    for (const { child } of children) if (child.exitCode === null) child.kill("SIGKILL");
  }
}

/** The Redis time the replicas ran in, ms: from the first one's first call to the last one's last. */
function window(reports: LimitsChildReport[]): number {
  return Math.max(...reports.map((r) => r.end)) - Math.min(...reports.map((r) => r.start));
}

describe("gateway limits: two replicas sharing Redis", () => {
  it("grant one bucket's requests in total, not one bucket's each", async (t) => {
    const prefix = `${uniqueName("t")}:`;
    const rate = { requestsPerSecond: 50, burst: 10 };
    const task = { url: redis.url, prefix, mode: "rate" as const, name: "route", durationMs: 3000, loops: 4, rate };
    const reports = await replicas([task, { ...task, skewMs: 5_000 }]);
    const allowed = reports.reduce((n, r) => n + r.allowed, 0);
    const ms = window(reports);
    const most = rate.burst + (rate.requestsPerSecond * ms) / 1000;
    const detail = `${allowed} granted (${reports.map((r) => r.allowed).join(" + ")}) in ${ms.toFixed(1)} ms of Redis time; a bucket holds ${most.toFixed(1)}`;
    t.diagnostic(detail);
    assert.ok(
      reports.every((r) => r.allowed > 0 && r.denied > 0),
      `both replicas took part and were refused: ${detail}`,
    );
    // Exact: a bucket that starts full cannot have granted more than its burst and its refill over the window.
    assert.ok(allowed <= Math.floor(most + 1e-6), detail);
    // Both hammer it the whole time, so every refilled request is taken; the slack is the burst, for stalls at the ends.
    assert.ok(allowed >= most - rate.burst - 1, detail);
  });

  it("hold one token budget during concurrent streams, refunds included", async (t) => {
    const prefix = `${uniqueName("t")}:`;
    const budget = { tokensPerMinute: 1200, reserve: 100, use: 60, holdMs: 30 };
    const task = {
      url: redis.url,
      prefix,
      mode: "budget" as const,
      name: "profile",
      durationMs: 3000,
      loops: 6,
      budget,
    };
    const reports = await replicas([task, { ...task, skewMs: -5_000 }]);
    const used = reports.reduce((n, r) => n + r.usedTokens, 0);
    const ms = window(reports);
    const most = budget.tokensPerMinute + (budget.tokensPerMinute * ms) / 60_000;
    const detail = `${used} tokens used (${reports.map((r) => r.usedTokens).join(" + ")}) in ${ms.toFixed(1)} ms; the budget holds ${most.toFixed(1)}`;
    t.diagnostic(detail);
    assert.ok(
      reports.every((r) => r.allowed > 0 && r.denied > 0),
      `both replicas streamed and were refused: ${detail}`,
    );
    assert.ok(used <= most, detail);
    // Left at the end: under one reservation, plus the refunds of the streams still open when the replicas stopped.
    assert.ok(used >= most - budget.reserve - 2 * task.loops * (budget.reserve - budget.use), detail);
  });
});
