/**
 * The prom-client workqueue metrics on a fake clock, read back from the registry's text exposition as Prometheus would
 * scrape it; and the registry's sharing rules.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Counter, Registry } from "prom-client";
import { controllerMetrics, controllerRuntimeWorkqueueBuckets, workqueueMetrics } from "../../src/metrics/index.js";
import { ManualClock, Workqueue } from "../../src/queue/index.js";
import { parsePrometheusText, type Scrape } from "../support/prometheus.js";

const queue = { name: "widgets", controller: "widgets" };

async function scrape(registry: Registry): Promise<Scrape> {
  return parsePrometheusText(await registry.metrics());
}

/** The cumulative count of the histogram bucket whose upper bound is `le`. */
function bucket(s: Scrape, name: string, le: number): number {
  const found = s.find(`${name}_bucket`, queue).filter((b) => Number(b.labels.le) === le);
  assert.equal(found.length, 1, `one ${name} bucket le=${le}`);
  return found[0]?.value ?? Number.NaN;
}

describe("workqueue metrics in a prom-client registry", () => {
  it("depth, adds, latency, work duration and retries, labelled name and controller", async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const q = new Workqueue<string>({ name: "widgets", clock, metrics: workqueueMetrics(registry) });
    let s = await scrape(registry);
    assert.equal(s.types.get("workqueue_depth"), "gauge");
    assert.equal(s.types.get("workqueue_adds_total"), "counter");
    assert.equal(s.types.get("workqueue_queue_duration_seconds"), "histogram");
    assert.equal(s.value("workqueue_depth", queue), 0, "a new queue shows its depth at once");
    assert.equal(s.value("workqueue_adds_total", queue), 0);

    q.add("a");
    await clock.advance(1_000);
    q.add("b");
    q.add("a");
    s = await scrape(registry);
    assert.equal(s.value("workqueue_depth", queue), 2);
    assert.equal(s.value("workqueue_adds_total", queue), 2, "a pending key added again is no add");

    await clock.advance(500);
    assert.equal(await q.get(), "a");
    await clock.advance(250);
    q.done("a");
    assert.equal(await q.get(), "b");
    s = await scrape(registry);
    assert.equal(s.value("workqueue_depth", queue), 0, "each key handed out leaves the depth");
    assert.equal(s.value("workqueue_queue_duration_seconds_count", queue), 2);
    assert.equal(s.value("workqueue_queue_duration_seconds_sum", queue), 1.5 + 0.75);
    assert.equal(bucket(s, "workqueue_queue_duration_seconds", 1), 1, "0.75 s is under 1 s, 1.5 s is not");
    assert.equal(bucket(s, "workqueue_queue_duration_seconds", 10), 2);
    assert.equal(s.value("workqueue_work_duration_seconds_count", queue), 1);
    assert.equal(s.value("workqueue_work_duration_seconds_sum", queue), 0.25);
    const les = s.find("workqueue_work_duration_seconds_bucket", queue).map((b) => b.labels.le);
    assert.deepEqual(les, [...controllerRuntimeWorkqueueBuckets.map(String), "+Inf"]);

    q.addRateLimited("c");
    q.addAfter("d", 100);
    s = await scrape(registry);
    assert.equal(s.value("workqueue_retries_total", queue), 2);
    assert.equal(s.value("workqueue_depth", queue), 0, "keys waiting for their delay are not in the depth");
    await clock.advance(100);
    s = await scrape(registry);
    assert.equal(s.value("workqueue_depth", queue), 2, "both delays have passed");
    q.done("b");
    q.shutDown();
  });

  it("unfinished work and the longest running processor, as the queue refreshes them", async () => {
    const registry = new Registry();
    const clock = new ManualClock();
    const q = new Workqueue<string>({ name: "widgets", clock, metrics: workqueueMetrics(registry) });
    q.add("old");
    assert.equal(await q.get(), "old");
    await clock.advance(1_000);
    q.add("new");
    assert.equal(await q.get(), "new");
    await clock.advance(500);
    let s = await scrape(registry);
    assert.equal(s.value("workqueue_unfinished_work_seconds", queue), 1.5 + 0.5);
    assert.equal(s.value("workqueue_longest_running_processor_seconds", queue), 1.5);
    q.done("old");
    q.done("new");
    await clock.advance(500);
    s = await scrape(registry);
    assert.equal(s.value("workqueue_unfinished_work_seconds", queue), 0);
    assert.equal(s.value("workqueue_longest_running_processor_seconds", queue), 0);
    q.shutDown();
  });

  it("a second queue of the same name adds to what the first counted; two registries stay apart", async () => {
    const registry = new Registry();
    const other = new Registry();
    const clock = new ManualClock();
    const first = new Workqueue<string>({ name: "widgets", clock, metrics: workqueueMetrics(registry) });
    first.add("a");
    assert.equal(await first.get(), "a");
    first.done("a");
    first.shutDown();
    const second = new Workqueue<string>({ name: "widgets", clock, metrics: controllerMetrics(registry).workqueue });
    second.add("a");
    const s = await scrape(registry);
    assert.equal(s.value("workqueue_adds_total", queue), 2, "registered twice, the metrics are shared, not reset");
    assert.equal(s.value("workqueue_depth", queue), 1);
    workqueueMetrics(other);
    assert.equal((await scrape(other)).find("workqueue_adds_total").length, 0, "the other registry saw no queue");
    second.shutDown();
  });

  it("refuses a registry holding one of its names as another type", () => {
    const registry = new Registry();
    new Counter({ name: "workqueue_depth", help: "someone else's", registers: [registry] });
    assert.throws(() => workqueueMetrics(registry), /workqueue_depth already, of another type/);
  });
});

describe("the test's Prometheus text parser", () => {
  it("reads escaped label values, special values and types; refuses malformed lines", () => {
    const s = parsePrometheusText(
      [
        "# HELP x_total A help text.",
        "# TYPE x_total counter",
        'x_total{path="/a\\"b\\\\c\\nd",code="<error>"} 3',
        "y +Inf 1700000000000",
        "",
      ].join("\n"),
    );
    assert.equal(s.types.get("x_total"), "counter");
    assert.deepEqual(s.find("x_total")[0]?.labels, { path: '/a"b\\c\nd', code: "<error>" });
    assert.equal(s.value("x_total", { code: "<error>" }), 3);
    assert.equal(s.value("y"), Number.POSITIVE_INFINITY);
    assert.equal(s.sum("absent"), 0);
    assert.throws(() => s.value("absent"), /0 samples/);
    for (const bad of ['x{a="1"', 'x{a="1"} one', "x{a=1} 2", "x", "# COMMENT x", 'x{a="1",a="2"} 1']) {
      assert.throws(() => parsePrometheusText(bad), Error, bad);
    }
  });
});
