/**
 * One measured store design, in a process of its own (run with `--expose-gc`): an informer per listed resource with
 * the variant's transform, synced from the real server; then CPU loops over the same objects. Prints one JSON line:
 * `{"objects", "bytes_per_object", "sync_us", "parse_us", "transform_us", "get_us", "size_us", "stringify_us",
 * "stats_bytes", "json_bytes"}` (see bench/store.ts for what each means).
 *
 *   node --expose-gc dist/bench/store-child.js --variant NAME --kubeconfig PATH --namespace NS
 *     --resources GROUP/VERSION/RESOURCE,... --objects N
 */
import { parseArgs } from "node:util";
import { defaultTransform, dropManagedFields, Informer } from "../src/cache/informer.js";
import { internStrings } from "../src/cache/intern.js";
import { jsonSize } from "../src/cache/size.js";
import { keepFields } from "../src/cache/transform.js";
import { listWatchOf } from "../src/cache/watcher.js";
import { DynamicClient } from "../src/client/resource.js";
import { loadConfig } from "../src/config/index.js";
import { Transport } from "../src/http/transport.js";
import type { KubeObject } from "../src/object/types.js";

const { values } = parseArgs({
  options: {
    variant: { type: "string" },
    kubeconfig: { type: "string" },
    namespace: { type: "string" },
    resources: { type: "string" },
    objects: { type: "string" },
    keep: { type: "string", default: "" },
  },
});
const variant = values.variant ?? "";
const kubeconfig = values.kubeconfig ?? "";
const namespace = values.namespace ?? "";
const resources = (values.resources ?? "").split(",").filter(Boolean);
const objects = Number(values.objects);
if (!kubeconfig || !namespace || resources.length === 0 || !Number.isInteger(objects) || objects < 1) {
  throw new Error("store-child needs --variant, --kubeconfig, --namespace, --resources and --objects");
}
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error("store-child must run with node --expose-gc");

/**
 * Design (b): the object's JSON kept as a string, with a parsed header of what the store and the informer read (its
 * identity and labels); the rest would be parsed on first access. The JSON comes from JSON.stringify here; a real
 * implementation would slice it out of the response, which costs a scan of its own that this does not count.
 */
function lazyJson(object: KubeObject): KubeObject {
  const full = dropManagedFields(object);
  const m = full.metadata;
  const header = {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    resourceVersion: m.resourceVersion,
    ...(m.labels ? { labels: m.labels } : {}),
  };
  return { apiVersion: full.apiVersion, kind: full.kind, metadata: header, raw: JSON.stringify(full) };
}

/** Design (c), restricted: interning only metadata fields known to repeat, plus the type envelope. */
function internMetadata(): (object: KubeObject) => KubeObject {
  const table = new Map<string, string>();
  const one = (s: unknown) => {
    if (typeof s !== "string" || s.length <= 10) return s;
    const known = table.get(s);
    if (known !== undefined) return known;
    if (table.size >= 50_000) table.clear();
    table.set(s, s);
    return s;
  };
  return (object) => {
    const o = dropManagedFields(object);
    o.apiVersion = one(o.apiVersion) as string;
    o.kind = one(o.kind) as string;
    const m = o.metadata;
    if (m.namespace !== undefined) m.namespace = one(m.namespace) as string;
    if (m.generateName !== undefined) m.generateName = one(m.generateName) as string;
    for (const bag of [m.labels, m.annotations]) {
      if (!bag) continue;
      for (const k of Object.keys(bag)) bag[k] = one(bag[k]) as string;
    }
    for (const ref of m.ownerReferences ?? []) {
      ref.apiVersion = one(ref.apiVersion) as string;
      ref.kind = one(ref.kind) as string;
      ref.name = one(ref.name) as string;
      ref.uid = one(ref.uid) as string;
    }
    return o;
  };
}

function transformOf(name: string): (object: KubeObject) => KubeObject {
  switch (name) {
    case "kindwatch":
      return defaultTransform;
    case "lazy-json":
      return lazyJson;
    case "intern-all": {
      const intern = internStrings<KubeObject>();
      return (o) => intern(dropManagedFields(o));
    }
    case "intern-meta":
      return internMetadata();
    case "keep-fields":
      return keepFields<KubeObject>(values.keep.split(",").filter(Boolean));
    default:
      throw new Error(`unknown variant ${name}`);
  }
}

function settledMemory(): number {
  collect?.();
  collect?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * The CPU of `fn` over the items `make()` gives (fresh ones per pass, made untimed, since transforms change their
 * input), per item in µs: the best of 3 passes, the others having lost time to collection or to other processes.
 */
function perItem<I>(make: () => readonly I[], fn: (item: I) => unknown): number {
  let best = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let pass = 0; pass < 3; pass++) {
    const items = make();
    const started = cpuMicros();
    for (const item of items) if (fn(item) !== undefined) sink++;
    best = Math.min(best, (cpuMicros() - started) / items.length);
  }
  if (sink < 0) console.error(sink);
  return best;
}

const transport = new Transport(loadConfig({ kubeconfig }));
const client = new DynamicClient(transport);
const clients = resources.map((r) => {
  const [group = "", version = "", resource = ""] = r.split("/");
  return client.resource({ group, version, resource }).namespace(namespace);
});
const transform = transformOf(variant);
const informers = clients.map((c) => new Informer<KubeObject>(listWatchOf(c), { transform }));

const before = settledMemory();
const cpuBefore = cpuMicros();
for (const informer of informers) informer.start();
await Promise.all(informers.map((i) => i.synced(AbortSignal.timeout(120_000 + objects * 3))));
const syncUs = cpuMicros() - cpuBefore;
const stored = informers.reduce((n, i) => n + i.store.size, 0);
const bytesPerObject = (settledMemory() - before) / stored;
for (const informer of informers) await informer.stop();

// The CPU loops run on the objects as served, kept as JSON text so that each pass parses fresh ones.
const texts: string[] = [];
for (const c of clients) for (const item of (await c.list()).items) texts.push(JSON.stringify(item));
const parseUs = perItem(
  () => texts,
  (t) => JSON.parse(t),
);
const transformUs = perItem(() => texts.map((t) => JSON.parse(t) as KubeObject), transform);
const kept = informers.flatMap((i) => i.store.list());
const getUs =
  variant === "lazy-json"
    ? perItem(
        () => kept,
        (o) => JSON.parse(o.raw as string),
      )
    : 0;
const sizeUs = perItem(() => kept, jsonSize);
const stringifyUs = perItem(
  () => kept,
  (o) => JSON.stringify(o).length,
);
const statsBytes = informers.reduce((n, i) => n + i.store.stats().bytes, 0);
const jsonBytes = kept.reduce((n, o) => n + JSON.stringify(o).length, 0);
await transport.close();
console.log(
  JSON.stringify({
    objects: stored,
    bytes_per_object: bytesPerObject,
    sync_us: syncUs / stored,
    parse_us: parseUs,
    transform_us: transformUs,
    get_us: getUs,
    size_us: sizeUs,
    stringify_us: stringifyUs,
    stats_bytes: statsBytes / stored,
    json_bytes: jsonBytes / stored,
  }),
);
