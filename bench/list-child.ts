/**
 * One measured listing, in a process of its own: lists every object of one namespace page by page through one
 * implementation, touches each, and prints `{"objects", "time_s", "cpu_s", "peak_rss_bytes"}` as its last line.
 *
 *   node dist/bench/list-child.js --impl kindwatch|client-node --kubeconfig PATH --group G --namespace NS
 *     --resource widgets --page 500
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    impl: { type: "string" },
    kubeconfig: { type: "string" },
    group: { type: "string" },
    namespace: { type: "string" },
    resource: { type: "string", default: "widgets" },
    page: { type: "string", default: "500" },
  },
});
function required(name: "impl" | "kubeconfig" | "group" | "namespace" | "resource"): string {
  const value = values[name];
  if (!value) throw new Error(`list-child needs --${name}`);
  return value;
}
const impl = required("impl");
const kubeconfig = required("kubeconfig");
const group = required("group");
const namespace = required("namespace");
const resource = required("resource");
const limit = Number(values.page);
const version = "v1";

/** What every implementation does with each object: read its name and spec, as a consumer would. */
let objects = 0;
let nameBytes = 0;
function consume(obj: unknown): void {
  const o = obj as { metadata?: { name?: unknown }; spec?: unknown };
  if (typeof o.metadata?.name !== "string" || typeof o.spec !== "object")
    throw new Error("an object without name or spec");
  nameBytes += o.metadata.name.length;
  objects++;
}

async function kindwatch(): Promise<() => Promise<void>> {
  const { loadConfig } = await import("../src/config/index.js");
  const { Transport } = await import("../src/http/transport.js");
  const { DynamicClient } = await import("../src/client/resource.js");
  const transport = new Transport(loadConfig({ kubeconfig }));
  const widgets = new DynamicClient(transport).resource({ group, version, resource }).namespace(namespace);
  return async () => {
    for await (const obj of widgets.listAll({ limit })) consume(obj);
    await transport.close();
  };
}

async function clientNode(): Promise<() => Promise<void>> {
  const k8s = await import("@kubernetes/client-node");
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  return async () => {
    let token: string | undefined;
    do {
      const page = (await api.listNamespacedCustomObject({
        group,
        version,
        namespace,
        plural: resource,
        limit,
        ...(token ? { _continue: token } : {}),
      })) as { items?: unknown[]; metadata?: { continue?: string } };
      for (const obj of page.items ?? []) consume(obj);
      token = page.metadata?.continue || undefined;
    } while (token);
  };
}

const implementations: Record<string, () => Promise<() => Promise<void>>> = {
  kindwatch,
  "client-node": clientNode,
};
const prepare = implementations[impl];
if (!prepare) throw new Error(`unknown implementation ${impl}: expected ${Object.keys(implementations).join(" or ")}`);
// Loading the library and reading the kubeconfig are outside the timing; the listing, connections included, is in.
const list = await prepare();
const cpuSeconds = () => {
  const usage = process.resourceUsage();
  return (usage.userCPUTime + usage.systemCPUTime) / 1e6;
};
const cpuBefore = cpuSeconds();
const started = performance.now();
await list();
const seconds = (performance.now() - started) / 1000;
console.log(
  JSON.stringify({
    objects,
    nameBytes,
    time_s: seconds,
    cpu_s: cpuSeconds() - cpuBefore,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024,
  }),
);
