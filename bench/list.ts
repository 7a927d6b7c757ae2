/**
 * The list benchmark: 10,000 custom objects of about 1 KiB in one namespace, listed page by page (500 a page) through
 * kindwatch's dynamic client and through @kubernetes/client-node's CustomObjectsApi. Each measurement is a child
 * process of its own (see list-child.ts), so its peak RSS is its own; the order alternates from run to run.
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DynamicClient } from "../src/client/resource.js";
import { loadConfig } from "../src/config/index.js";
import { Transport } from "../src/http/transport.js";
import { uniqueName, waitFor } from "../test/support/wait.js";
import { runChild } from "./support/child.js";
import { benchCluster, finish } from "./support/cluster.js";
import { describeMachine, machineLines } from "./support/machine.js";
import { crd, createAll, widget } from "./support/objects.js";
import { type Results, ratios, resultLine, table } from "./support/report.js";
import { median, range } from "./support/stats.js";
import { clientNodeVersion } from "./support/versions.js";

const ours = "kindwatch";
const peer = "client-node";
const childScript = fileURLToPath(new URL("./list-child.js", import.meta.url));
const childTimeoutMs = 120_000;

interface Sample {
  readonly objects: number;
  readonly time_s: number;
  readonly cpu_s: number;
  readonly peak_rss_bytes: number;
}

function isSample(value: unknown): value is Sample {
  const v = value as Partial<Sample> | null;
  return (
    typeof v?.objects === "number" &&
    typeof v.time_s === "number" &&
    typeof v.cpu_s === "number" &&
    typeof v.peak_rss_bytes === "number"
  );
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

/** Runs the list benchmark; prints the table, then the JSON line. */
export async function listBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      objects: { type: "string", default: "10000" },
      runs: { type: "string", default: "7" },
      page: { type: "string", default: "500" },
      concurrency: { type: "string", default: "32" },
    },
  });
  const count = Number(values.objects);
  const runs = Number(values.runs);
  const page = Number(values.page);
  const concurrency = Number(values.concurrency);
  for (const [name, n] of Object.entries({ objects: count, runs, page, concurrency })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${n}`);
  }
  const log = (line: string) => console.error(line);
  const cluster = await benchCluster(log);
  const transport = new Transport(loadConfig({ kubeconfig: cluster.kubeconfigPath }));
  const client = new DynamicClient(transport);
  const group = `${uniqueName("bench")}.kindwatch.dev`;
  const namespace = uniqueName("bench-list");
  const crds = client.resource({ group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" });
  const namespaces = client.resource({ group: "", version: "v1", resource: "namespaces" });
  const samples: Record<string, Sample[]> = { [ours]: [], [peer]: [] };
  let output: string[];
  try {
    const machine = await describeMachine(transport);
    await namespaces.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    await crds.create(crd(group));
    const widgets = client.resource({ group, version: "v1", resource: "widgets" }).namespace(namespace);
    await waitFor("the CRD to be served", async () => {
      await widgets.list({ limit: 1 });
      return true;
    });

    log(`creating ${count} objects in ${namespace}, ${concurrency} at a time`);
    const createStarted = performance.now();
    await createAll(count, concurrency, (i) => ({ client: widgets, object: widget(group, i) }));
    const createSeconds = (performance.now() - createStarted) / 1000;
    const firstPage = await transport.request({
      path: `/apis/${group}/v1/namespaces/${namespace}/widgets`,
      query: { limit: page },
    });
    const served = JSON.parse(firstPage.body.toString("utf8")) as { items?: unknown[] };
    const bytesPerObject = Math.round(firstPage.body.length / Math.max(1, served.items?.length ?? 0));

    const args = (impl: string) => [
      "--impl",
      impl,
      "--kubeconfig",
      cluster.kubeconfigPath,
      "--group",
      group,
      "--namespace",
      namespace,
      "--page",
      String(page),
    ];
    const measure = async (impl: string): Promise<Sample> => {
      const sample = await runChild(childScript, args(impl), childTimeoutMs);
      if (!isSample(sample)) throw new Error(`${impl}: the child printed ${JSON.stringify(sample)}, not a sample`);
      if (sample.objects !== count) throw new Error(`${impl} listed ${sample.objects} objects, not ${count}`);
      return sample;
    };
    log("warm-up");
    for (const impl of [ours, peer]) await measure(impl);
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? [ours, peer] : [peer, ours];
      for (const impl of order) {
        const sample = await measure(impl);
        samples[impl]?.push(sample);
        const { time_s, cpu_s, peak_rss_bytes } = sample;
        log(
          `run ${run + 1}/${runs} ${impl}: ${time_s.toFixed(3)} s, ${cpu_s.toFixed(3)} s CPU, ${mib(peak_rss_bytes)} MiB`,
        );
      }
    }

    const labels: Record<string, string> = { [ours]: ours, [peer]: `${peer} ${clientNodeVersion()}` };
    const { results, rows } = summarize(samples, labels);
    output = [
      `list: ${count} custom objects of ~${bytesPerObject} bytes as served, one namespace, page size ${page}`,
      ...machineLines(machine),
      `setup:      created in ${createSeconds.toFixed(1)} s (${Math.round(count / createSeconds)}/s, ${concurrency} at a time through kindwatch)`,
      `peer:       @kubernetes/client-node ${clientNodeVersion()}, CustomObjectsApi.listNamespacedCustomObject with limit/continue`,
      `method:     median of ${runs} runs after 1 warm-up; each run a fresh process per implementation, order alternating;`,
      "            time_s: wall time of the listing (connections included, module loading not); cpu_s: the client",
      "            process's user+system CPU during it; peak RSS: the whole client process",
      "",
      table(rows),
      resultLine("list", results, ours),
    ];
  } finally {
    await finish(cluster, transport, { crds: [`widgets.${group}`], namespace });
  }
  console.log(output.join("\n"));
}

const metrics: readonly { key: keyof Sample; head: string; show: (v: number) => string }[] = [
  { key: "time_s", head: "time_s", show: (v) => v.toFixed(3) },
  { key: "cpu_s", head: "cpu_s", show: (v) => v.toFixed(3) },
  { key: "peak_rss_bytes", head: "peak RSS MiB", show: mib },
];

/** Medians for the JSON line; a row per implementation (median, min..max of each metric) and a row of ratios. */
function summarize(samples: Record<string, Sample[]>, labels: Record<string, string>) {
  const results: Results = {};
  const rows: string[][] = [["implementation", ...metrics.flatMap((m) => [m.head, "min..max"])]];
  for (const [impl, runs] of Object.entries(samples)) {
    const cells = [labels[impl] ?? impl];
    const medians: Record<string, number> = {};
    for (const m of metrics) {
      const values = runs.map((s) => s[m.key]);
      const mid = median(values);
      const { min, max } = range(values);
      medians[m.key] = m.key === "peak_rss_bytes" ? Math.round(mid) : Number(mid.toFixed(4));
      cells.push(m.show(mid), `${m.show(min)}..${m.show(max)}`);
    }
    results[impl] = medians;
    rows.push(cells);
  }
  const ratio = ratios(results, ours);
  rows.push([`${ours} / ${peer}`, ...metrics.flatMap((m) => [`${ratio[`${m.key}/${peer}`]?.toFixed(2)}x`, ""])]);
  return { results, rows };
}
