/**
 * The store benchmark: what a cached object costs in memory and CPU under each candidate design of the store, on
 * objects made by the real server. Two sets: custom widgets (the informer benchmark's, ~770 bytes of JSON once
 * managedFields are dropped, 320 of them a random payload) and Pods (server-defaulted, owned by ReplicaSets, labels
 * and images repeated as in a real cluster). Per run, set and design, a fresh `--expose-gc` child process syncs an
 * informer with that design's transform and measures:
 *
 *   bytes_per_object: V8 heap used + external after full collections, synced minus before, over the objects.
 *   sync_us: the process's user+system CPU from start to synced, per object (list, parse, transform, store).
 *   parse_us (table only): JSON.parse of the object as served, for scale.
 *   transform_us: the transform's own CPU per object, applied to freshly parsed objects as served.
 *   get_us (lazy-json): parsing a stored object's JSON, what its first full access would cost.
 *   size_us, stringify_us (kindwatch): the walk Store.stats() makes per changed object, and JSON.stringify for scale;
 *   stats_bytes, json_bytes (table only): that estimate and the stored objects' real compact JSON length, per object.
 *
 * Designs: kindwatch (the default: parsed objects minus managedFields), lazy-json (the JSON text plus a parsed header
 * of identity and labels), intern-all (internStrings on every string of 11 to 64 characters), intern-meta (interning
 * only apiVersion, kind, namespace, generateName, label and annotation values, owner references), keep-fields
 * (keepFields with a typical allow-list). A ratio is kindwatch's cost over the design's: over 1, the design is cheaper.
 */
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DynamicClient, type ResourceClient } from "../src/client/resource.js";
import { loadConfig } from "../src/config/index.js";
import { isAlreadyExists } from "../src/http/errors.js";
import { Transport } from "../src/http/transport.js";
import type { KubeObject } from "../src/object/types.js";
import { uniqueName, waitFor } from "../test/support/wait.js";
import { runChild } from "./support/child.js";
import { benchCluster, finish } from "./support/cluster.js";
import { describeMachine, machineLines } from "./support/machine.js";
import { crd, createAll, widget } from "./support/objects.js";
import { type Results, resultLine, table } from "./support/report.js";
import { median, range } from "./support/stats.js";

const ours = "kindwatch";
const variants = [ours, "lazy-json", "intern-all", "intern-meta", "keep-fields"] as const;
const childScript = fileURLToPath(new URL("./store-child.js", import.meta.url));

/** What one child reports. */
interface Sample {
  readonly objects: number;
  readonly bytes_per_object: number;
  readonly sync_us: number;
  readonly parse_us: number;
  readonly transform_us: number;
  readonly get_us: number;
  readonly size_us: number;
  readonly stringify_us: number;
  readonly stats_bytes: number;
  readonly json_bytes: number;
}

const sampleKeys = [
  "objects",
  "bytes_per_object",
  "sync_us",
  "parse_us",
  "transform_us",
  "get_us",
  "size_us",
  "stringify_us",
  "stats_bytes",
  "json_bytes",
] as const;

function isSample(value: unknown): value is Sample {
  const v = value as Record<string, unknown> | null;
  return sampleKeys.every((k) => typeof v?.[k] === "number");
}

/** A Pod as a ReplicaSet of `replicaSets` would make it: labels, owner, one container with probes, env and limits. */
function pod(i: number, owners: readonly string[]): KubeObject {
  const rs = i % owners.length;
  const hash = `6f${String(rs).padStart(8, "0")}`;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `web-${hash}-${String(i).padStart(6, "0")}`,
      labels: {
        app: "web",
        "app.kubernetes.io/name": "web",
        "app.kubernetes.io/part-of": "bench",
        "pod-template-hash": hash,
      },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: `web-${hash}`, uid: owners[rs] as string, controller: true },
      ],
    },
    spec: {
      nodeName: `node-${String(i % 50).padStart(3, "0")}.bench.example.com`,
      containers: [
        {
          name: "app",
          image: "registry.example.com/bench/web-frontend:1.24.3",
          ports: [{ name: "http", containerPort: 8080 }],
          env: [
            { name: "LOG_LEVEL", value: "info" },
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          ],
          resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
          readinessProbe: { httpGet: { path: "/healthz", port: 8080 } },
        },
      ],
    },
  };
}

/** The allow-lists of keep-fields: what a typical controller of each set reads. */
const keep: Record<string, string> = {
  widgets: "metadata.labels,spec.replicas,spec.image",
  pods: "metadata.labels,metadata.ownerReferences,spec.nodeName,status.phase,status.podIP",
};

/** Runs the store benchmark; prints the table, then the JSON line. */
export async function storeBench(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      objects: { type: "string", default: "10000" },
      runs: { type: "string", default: "3" },
      concurrency: { type: "string", default: "64" },
    },
  });
  const count = Number(values.objects);
  const runs = Number(values.runs);
  const concurrency = Number(values.concurrency);
  for (const [name, n] of Object.entries({ objects: count, runs, concurrency })) {
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${n}`);
  }
  const log = (line: string) => console.error(line);
  const cluster = await benchCluster(log);
  const transport = new Transport(loadConfig({ kubeconfig: cluster.kubeconfigPath }));
  const client = new DynamicClient(transport);
  const group = `${uniqueName("store")}.kindwatch.dev`;
  const namespace = uniqueName("bench-store");
  const crds = client.resource({ group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" });
  const namespaces = client.resource({ group: "", version: "v1", resource: "namespaces" });
  let output: string[];
  try {
    const machine = await describeMachine(transport);
    const loadAtStart = loadavg()[0] ?? 0;
    await namespaces.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    // Pods need their service account; no controller manager runs to make it.
    await client
      .resource({ group: "", version: "v1", resource: "serviceaccounts" })
      .namespace(namespace)
      .create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default" } })
      .catch((err: unknown) => {
        if (!isAlreadyExists(err)) throw err;
      });
    await crds.create(crd(group));
    const widgets = client.resource({ group, version: "v1", resource: "widgets" }).namespace(namespace);
    const pods = client.resource({ group: "", version: "v1", resource: "pods" }).namespace(namespace);
    await waitFor("the CRD to be served", async () => {
      await widgets.list({ limit: 1 });
      return true;
    });
    const owners = Array.from({ length: 20 }, () => randomUUID());
    log(`creating ${count} widgets and ${count} pods in ${namespace}, ${concurrency} at a time`);
    const createStarted = performance.now();
    await createAll(2 * count, concurrency, (j) =>
      j % 2 === 0
        ? { client: widgets as ResourceClient, object: widget(group, j >> 1) }
        : { client: pods as ResourceClient, object: pod(j >> 1, owners) },
    );
    const createSeconds = (performance.now() - createStarted) / 1000;
    log(`created in ${createSeconds.toFixed(1)} s`);

    const sets: Record<string, string> = { widgets: `${group}/v1/widgets`, pods: "/v1/pods" };
    const samples: Record<string, Record<string, Sample[]>> = {};
    for (let run = 0; run < runs; run++) {
      const order = variants.map((_, i) => variants[(i + run) % variants.length] as string);
      for (const [set, resource] of Object.entries(sets)) {
        for (const variant of order) {
          const args = ["--variant", variant, "--kubeconfig", cluster.kubeconfigPath, "--namespace", namespace];
          args.push("--resources", resource, "--objects", String(count), "--keep", keep[set] ?? "");
          const sample = await runChild(childScript, args, 300_000 + count * 10, ["--expose-gc"]);
          if (!isSample(sample)) throw new Error(`${variant}: the child printed ${JSON.stringify(sample)}`);
          if (sample.objects !== count) throw new Error(`${variant} held ${sample.objects} ${set}, not ${count}`);
          const byVariant = samples[variant] ?? {};
          byVariant[set] = [...(byVariant[set] ?? []), sample];
          samples[variant] = byVariant;
          log(
            `run ${run + 1}/${runs} ${set} ${variant}: ${Math.round(sample.bytes_per_object)} bytes/object, ` +
              `sync ${sample.sync_us.toFixed(1)} µs CPU/object, transform ${sample.transform_us.toFixed(2)} µs`,
          );
        }
      }
    }

    const { results, rows } = summarize(samples, Object.keys(sets));
    output = [
      `store: ${count} widgets (custom, ~770 bytes of JSON without managedFields, half a random payload) and ${count}`,
      "       Pods (server-defaulted, 20 owning ReplicaSets) in one namespace, one informer per set and design",
      ...machineLines(machine),
      `load:       1-minute load average ${loadAtStart.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end`,
      `setup:      created in ${createSeconds.toFixed(1)} s`,
      "designs:    kindwatch: parsed objects minus managedFields (the default); lazy-json: JSON text + parsed header",
      "            (identity, labels); intern-all: internStrings() (strings of 11..64 chars); intern-meta: interning",
      "            envelope, namespace, labels, annotations, owner references only; keep-fields: keepFields(allow-list),",
      `            widgets ${keep.widgets}; pods ${keep.pods}`,
      `method:     median of ${runs} runs, each a fresh --expose-gc process per set and design, order rotating;`,
      "            bytes/object: heap used + external after gc, synced minus before; sync µs: process CPU start to",
      "            synced per object; transform µs, get µs (parse of lazy JSON), size µs (jsonSize), stringify µs:",
      "            CPU per object, best of 3 passes; stats/json: the store's size estimate and the real JSON length",
      "",
      table(rows),
      resultLine("store", results, ours),
    ];
  } finally {
    await finish(cluster, transport, { crds: [`widgets.${group}`], namespace });
  }
  console.log(output.join("\n"));
}

/** Medians for the JSON line (metrics named `SET_METRIC`); the table's rows, a row per design and set. */
function summarize(samples: Record<string, Record<string, Sample[]>>, sets: readonly string[]) {
  const results: Results = {};
  const head = [
    "design",
    "set",
    "bytes/object",
    "min..max",
    "sync µs",
    "parse µs",
    "transform µs",
    "get µs",
    "size µs",
  ];
  head.push("stringify µs", "stats/json");
  const rows: string[][] = [head];
  for (const set of sets) {
    for (const variant of variants) {
      const runs = samples[variant]?.[set] ?? [];
      if (runs.length === 0) continue;
      const of = (key: keyof Sample) => median(runs.map((s) => s[key]));
      const bytes = range(runs.map((s) => s.bytes_per_object));
      const metrics: Record<string, number> = {
        [`${set}_bytes_per_object`]: Math.round(of("bytes_per_object")),
        [`${set}_sync_us`]: Number(of("sync_us").toFixed(2)),
        [`${set}_transform_us`]: Number(of("transform_us").toFixed(3)),
      };
      if (variant === "lazy-json") metrics[`${set}_get_us`] = Number(of("get_us").toFixed(3));
      if (variant === ours) {
        metrics[`${set}_size_us`] = Number(of("size_us").toFixed(3));
        metrics[`${set}_stringify_us`] = Number(of("stringify_us").toFixed(3));
      }
      results[variant] = { ...results[variant], ...metrics };
      rows.push([
        variant,
        set,
        String(Math.round(of("bytes_per_object"))),
        `${Math.round(bytes.min)}..${Math.round(bytes.max)}`,
        of("sync_us").toFixed(1),
        of("parse_us").toFixed(2),
        of("transform_us").toFixed(2),
        variant === "lazy-json" ? of("get_us").toFixed(2) : "",
        of("size_us").toFixed(2),
        of("stringify_us").toFixed(2),
        `${Math.round(of("stats_bytes"))}/${Math.round(of("json_bytes"))}`,
      ]);
    }
  }
  return { results, rows };
}
