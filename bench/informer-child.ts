/**
 * One measured informer run, in a process of its own (run with `--expose-gc`): informers for every group's widgets
 * through one implementation, handlers counting events. It prints a JSON line once synced
 * (`{"phase": "synced", "objects", "sync_s", "sync_cpu_s", "bytes_per_object"}`), then waits for "done PATCHES" on stdin (the churn
 * is over) and prints the final line once its handlers have seen that many events, or nothing more arrives for 2 s:
 * `{"phase": "done", ..., "events", "cpu_s", "us_per_event", "sys_us_per_event"}` (the last: the kernel's part).
 *
 *   node --expose-gc dist/bench/informer-child.js --impl kindwatch|kindwatch-http1|kindwatch-metadata|client-node
 *     --kubeconfig PATH --groups G1,G2,... --objects N
 *
 * kindwatch-http1 is kindwatch with its transport on HTTP/1.1 (`http2: false`), a connection per watch.
 */
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { KubernetesListObject, KubernetesObject } from "@kubernetes/client-node";

const { values } = parseArgs({
  options: {
    impl: { type: "string" },
    kubeconfig: { type: "string" },
    groups: { type: "string" },
    objects: { type: "string" },
    resource: { type: "string", default: "widgets" },
  },
});
const impl = values.impl ?? "";
const kubeconfig = values.kubeconfig ?? "";
const groups = (values.groups ?? "").split(",").filter(Boolean);
const objects = Number(values.objects);
const resource = values.resource;
const version = "v1";
if (!kubeconfig || groups.length === 0 || !Number.isInteger(objects) || objects < 1) {
  throw new Error("informer-child needs --impl, --kubeconfig, --groups and --objects");
}
const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error("informer-child must run with node --expose-gc");
const quietMs = 2000;

/** Counts what the handlers are told: every event, and adds apart, since the initial list arrives as adds. */
const counts = { adds: 0, events: 0 };
let onEvent = () => {};
const handlers = {
  add: () => {
    counts.adds++;
    counts.events++;
    onEvent();
  },
  update: () => {
    counts.events++;
    onEvent();
  },
  delete: () => {
    counts.events++;
    onEvent();
  },
};

/** Resolves once `test` holds, checked on every event. */
function until(test: () => boolean): Promise<void> {
  if (test()) return Promise.resolve();
  return new Promise((resolve) => {
    onEvent = () => {
      if (!test()) return;
      onEvent = () => {};
      resolve();
    };
  });
}

interface Subject {
  /** Starts every informer; resolves once each says it has synced. */
  start(): Promise<void>;
  /** How many objects the informers hold. */
  stored(): number;
}

async function kindwatch(metadataOnly: boolean, http2 = true): Promise<Subject> {
  const { loadConfig } = await import("../src/config/index.js");
  const { Transport } = await import("../src/http/transport.js");
  const { DynamicClient } = await import("../src/client/resource.js");
  const { Informer, listWatchOf } = await import("../src/cache/index.js");
  const client = new DynamicClient(new Transport(loadConfig({ kubeconfig }), { http2 }));
  const informers = groups.map(
    (group) => new Informer(listWatchOf(client.resource({ group, version, resource }), { metadataOnly })),
  );
  for (const informer of informers) informer.addHandlers(handlers);
  return {
    start: async () => {
      for (const informer of informers) informer.start();
      await Promise.all(informers.map((i) => i.synced()));
    },
    stored: () => informers.reduce((n, i) => n + i.store.size, 0),
  };
}

async function clientNode(): Promise<Subject> {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const informers = groups.map((group) =>
    k8s.makeInformer(
      kc,
      `/apis/${group}/${version}/${resource}`,
      () =>
        api.listClusterCustomObject({ group, version, plural: resource }) as Promise<
          KubernetesListObject<KubernetesObject>
        >,
    ),
  );
  let failure: unknown;
  for (const informer of informers) {
    informer.on("add", handlers.add);
    informer.on("update", handlers.update);
    informer.on("delete", handlers.delete);
    // client-node's informer stops for good on an error; a benchmark run with one would measure nothing.
    informer.on("error", (err) => {
      failure ??= err;
      console.error(`client-node informer failed: ${err instanceof Error ? err.message : JSON.stringify(err)}`);
      process.exit(1);
    });
  }
  return {
    start: async () => {
      await Promise.all(informers.map((i) => i.start()));
      if (failure) throw failure;
    },
    stored: () => informers.reduce((n, i) => n + i.list().length, 0),
  };
}

const implementations: Record<string, () => Promise<Subject>> = {
  kindwatch: () => kindwatch(false),
  "kindwatch-http1": () => kindwatch(false, false),
  "kindwatch-metadata": () => kindwatch(true),
  "client-node": clientNode,
};
const prepare = implementations[impl];
if (!prepare) throw new Error(`unknown implementation ${impl}: expected ${Object.keys(implementations).join(", ")}`);

/** Live memory after a full collection: the V8 heap and what it holds outside it (Buffers). */
function settledMemory(): number {
  collect?.();
  collect?.();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function cpuSeconds(): number {
  const usage = process.resourceUsage();
  return (usage.userCPUTime + usage.systemCPUTime) / 1e6;
}

function systemCpuSeconds(): number {
  return process.resourceUsage().systemCPUTime / 1e6;
}

/** Resolves with the patch count of the driver's "done PATCHES" line. */
function churnDone(): Promise<number> {
  return new Promise((resolve, reject) => {
    const input = createInterface({ input: process.stdin });
    input.on("line", (line) => {
      const [word, count] = line.trim().split(/\s+/);
      if (word !== "done") return;
      resolve(Number(count));
      input.close();
    });
    input.on("close", () => reject(new Error('stdin closed before "done PATCHES"')));
  });
}

// Loading the library and reading the kubeconfig are outside the timing, and in the memory baseline.
const subject = await prepare();
const baseline = settledMemory();
const cpuAtStart = cpuSeconds();
const started = performance.now();
// Synced: every informer says so, and the handlers have been told of every object.
await Promise.all([subject.start(), until(() => counts.adds >= objects)]);
const syncSeconds = (performance.now() - started) / 1000;
const syncCpu = cpuSeconds() - cpuAtStart;
const bytesPerObject = (settledMemory() - baseline) / objects;
const synced = {
  objects: subject.stored(),
  sync_s: syncSeconds,
  sync_cpu_s: syncCpu,
  bytes_per_object: bytesPerObject,
};
console.log(JSON.stringify({ phase: "synced", ...synced }));

const atSync = counts.events;
const cpuBefore = cpuSeconds();
const sysBefore = systemCpuSeconds();
const patches = await churnDone();
// Fewer events than patches arrive when an implementation merges updates of one object; then wait until it is quiet.
await Promise.race([
  until(() => counts.events - atSync >= patches),
  new Promise<void>((resolve) => {
    let last = counts.events;
    const timer = setInterval(() => {
      if (counts.events !== last) last = counts.events;
      else {
        clearInterval(timer);
        resolve();
      }
    }, quietMs);
  }),
]);
const cpu = cpuSeconds() - cpuBefore;
const sys = systemCpuSeconds() - sysBefore;
const events = counts.events - atSync;
const perEvent = (seconds: number) => (events > 0 ? (seconds / events) * 1e6 : 0);
console.log(
  JSON.stringify({
    phase: "done",
    ...synced,
    events,
    cpu_s: cpu,
    us_per_event: perEvent(cpu),
    sys_us_per_event: perEvent(sys),
  }),
);
process.exit(0);
