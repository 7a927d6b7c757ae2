/** The workqueue's metrics on a fake clock, through a provider that records what it is told. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ManualClock,
  Workqueue,
  type WorkqueueMetricsProvider,
  workqueueDurationBuckets,
  workqueueMetricNames,
} from "../../src/queue/index.js";

/** A provider keeping every metric's value (gauges, counters) or observations (histograms), per queue name. */
function recorder() {
  const values = new Map<string, number>();
  const observed = new Map<string, number[]>();
  const value = (metric: string) => values.get(metric) ?? 0;
  const gauge = (name: string, metric: string) => ({
    inc: () => values.set(`${name}:${metric}`, value(`${name}:${metric}`) + 1),
    dec: () => values.set(`${name}:${metric}`, value(`${name}:${metric}`) - 1),
    set: (v: number) => values.set(`${name}:${metric}`, v),
  });
  const histogram = (name: string, metric: string) => ({
    observe: (v: number) => observed.set(`${name}:${metric}`, [...(observed.get(`${name}:${metric}`) ?? []), v]),
  });
  const provider: WorkqueueMetricsProvider = {
    newDepthMetric: (name) => gauge(name, "depth"),
    newAddsMetric: (name) => gauge(name, "adds"),
    newLatencyMetric: (name) => histogram(name, "latency"),
    newWorkDurationMetric: (name) => histogram(name, "work"),
    newUnfinishedWorkSecondsMetric: (name) => gauge(name, "unfinished"),
    newLongestRunningProcessorSecondsMetric: (name) => gauge(name, "longest"),
    newRetriesMetric: (name) => gauge(name, "retries"),
  };
  return {
    provider,
    value: (metric: string) => value(`widgets:${metric}`),
    observed: (metric: string) => observed.get(`widgets:${metric}`) ?? [],
  };
}

describe("Workqueue metrics", () => {
  it("depth, adds, queue latency from the first add, work duration, retries", async () => {
    const clock = new ManualClock();
    const m = recorder();
    const q = new Workqueue<string>({ name: "widgets", clock, metrics: m.provider });
    q.add("a");
    await clock.advance(1_000);
    q.add("a");
    q.add("b");
    assert.equal(m.value("adds"), 2, "a pending key's second add is no add");
    assert.equal(m.value("depth"), 2);
    await clock.advance(500);
    assert.equal(await q.get(), "a");
    assert.equal(m.value("depth"), 1);
    assert.deepEqual(m.observed("latency"), [1.5], "latency counts from the first add");
    q.add("a");
    assert.equal(m.value("adds"), 3, "an add while processing counts");
    assert.equal(m.value("depth"), 2, "and so does its depth, as in client-go");
    await clock.advance(250);
    q.done("a");
    assert.deepEqual(m.observed("work"), [0.25]);
    assert.equal(await q.get(), "b");
    assert.equal(await q.get(), "a");
    assert.deepEqual(m.observed("latency"), [1.5, 0.75, 0.25]);
    q.addAfter("c", 100);
    q.addRateLimited("d");
    assert.equal(m.value("retries"), 2);
  });

  it("unfinished work and the longest running processor, refreshed every 500 ms until shutdown", async () => {
    const clock = new ManualClock();
    const m = recorder();
    const q = new Workqueue<string>({ name: "widgets", clock, metrics: m.provider });
    q.add("old");
    assert.equal(await q.get(), "old");
    await clock.advance(1_000);
    q.add("new");
    assert.equal(await q.get(), "new");
    await clock.advance(499);
    assert.equal(m.value("unfinished"), 1, "last refreshed at 1,000 ms");
    await clock.advance(1);
    assert.equal(m.value("unfinished"), 2);
    assert.equal(m.value("longest"), 1.5);
    q.done("old");
    await clock.advance(500);
    assert.equal(m.value("unfinished"), 1);
    assert.equal(m.value("longest"), 1);
    q.shutDown();
    assert.equal(clock.pendingTimers, 0, "the refresh stops at shutdown");
  });

  it("names the metrics as client-go does, with its duration buckets", () => {
    assert.equal(workqueueMetricNames.depth, "workqueue_depth");
    assert.equal(workqueueMetricNames.longestRunningProcessorSeconds, "workqueue_longest_running_processor_seconds");
    assert.deepEqual(workqueueDurationBuckets, [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10]);
  });
});
