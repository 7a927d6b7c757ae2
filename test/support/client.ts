/** The dynamic client on the test cluster: a namespace of the test's own, a CRD of a unique group, object builders. */
import {
  DynamicClient,
  type GroupVersionResource,
  type NamedObject,
  type ResourceClient,
} from "../../src/client/index.js";
import { loadConfig } from "../../src/config/index.js";
import { Transport, type TransportOptions } from "../../src/http/index.js";
import type { KubeObject } from "../../src/object/types.js";
import { attachCluster, type ClusterAccess } from "../../src/testing/index.js";
import { crdManifest, objectSchema } from "./crd-manifest.js";
import { uniqueName, waitFor } from "./wait.js";

/** Core `v1/configmaps`. */
export const configMapsGvr: GroupVersionResource = { group: "", version: "v1", resource: "configmaps" };
/** `apps/v1/deployments`. */
export const deploymentsGvr: GroupVersionResource = { group: "apps", version: "v1", resource: "deployments" };
/** Core `v1/namespaces`. */
export const namespacesGvr: GroupVersionResource = { group: "", version: "v1", resource: "namespaces" };
/** `apiextensions.k8s.io/v1/customresourcedefinitions`. */
export const crdsGvr: GroupVersionResource = {
  group: "apiextensions.k8s.io",
  version: "v1",
  resource: "customresourcedefinitions",
};

/** A test's connection: kindwatch's own config loader and transport, and a namespace of its own. */
export interface ClientEnv {
  readonly cluster: ClusterAccess;
  readonly transport: Transport;
  readonly client: DynamicClient;
  readonly namespace: string;
  /** Deletes the namespace (on the bare plane it stays Terminating: no controller-manager) and closes the transport. */
  close(): Promise<void>;
}

/** Attaches to the test cluster (or the one `attach` finds) and creates a namespace named `prefix-RANDOM`. */
export async function clientEnv(
  prefix: string,
  attach: () => Promise<ClusterAccess> = () => attachCluster(),
): Promise<ClientEnv> {
  const cluster = await attach();
  const transport = new Transport(loadConfig({ kubeconfig: cluster.kubeconfigPath, env: {} }));
  const client = new DynamicClient(transport);
  const namespace = uniqueName(prefix);
  const namespaces = client.resource(namespacesGvr);
  await namespaces.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  return {
    cluster,
    transport,
    client,
    namespace,
    close: async () => {
      await namespaces.delete(namespace).catch(() => {});
      await transport.close();
    },
  };
}

/** A custom kind made for one test file: `Widget` in a unique group, with status and scale subresources. */
export interface WidgetKind {
  readonly group: string;
  readonly apiVersion: string;
  readonly gvr: GroupVersionResource;
  readonly crdName: string;
  /** The printer columns `kubectl get` shows (priority 0), in order. */
  readonly columns: readonly string[];
  /** Deletes the CRD (and with it every Widget). */
  remove(): Promise<void>;
}

/** Creates the Widget CRD in a unique group and waits until the API serves it. */
export async function createWidgetCrd(client: DynamicClient): Promise<WidgetKind> {
  const group = `${uniqueName("w")}.kindwatch.dev`;
  const crdName = `widgets.${group}`;
  const gvr = { group, version: "v1", resource: "widgets" };
  const crds = client.resource(crdsGvr);
  await crds.create(
    crdManifest({
      group,
      kind: "Widget",
      plural: "widgets",
      versions: [
        {
          name: "v1",
          storage: true,
          schema: objectSchema({
            spec: {
              size: { type: "integer" },
              replicas: { type: "integer" },
              color: { type: "string" },
              tags: { type: "array", items: { type: "string" } },
              settings: { type: "object", additionalProperties: { type: "string" } },
            },
            status: { replicas: { type: "integer" }, phase: { type: "string" }, selector: { type: "string" } },
          }),
          subresources: {
            status: {},
            scale: {
              specReplicasPath: ".spec.replicas",
              statusReplicasPath: ".status.replicas",
              labelSelectorPath: ".status.selector",
            },
          },
          additionalPrinterColumns: [
            { name: "Replicas", type: "integer", jsonPath: ".spec.replicas" },
            { name: "Phase", type: "string", jsonPath: ".status.phase" },
            { name: "Color", type: "string", jsonPath: ".spec.color", priority: 1 },
            { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
          ],
        },
      ],
    }),
  );
  // Established is not enough: the new resource's handler is installed a moment later.
  await waitFor(`${crdName} to be served`, async () => (await client.resource(gvr).list({ limit: 1 })) !== undefined);
  return {
    group,
    apiVersion: `${group}/v1`,
    gvr,
    crdName,
    columns: ["Name", "Replicas", "Phase", "Age"],
    remove: async () => {
      await crds.delete(crdName).catch(() => {});
    },
  };
}

/** A Widget object. */
export function widget(kind: WidgetKind, name: string, spec: Record<string, unknown> = {}, extra = {}): KubeObject {
  return { apiVersion: kind.apiVersion, kind: "Widget", metadata: { name, ...extra }, spec };
}

/** A ConfigMap object. */
export function configMap(
  name: string,
  data: Record<string, string> = {},
  labels: Record<string, string> = {},
): KubeObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels }, data };
}

/** An apps/v1 Deployment with two containers, `app` and `sidecar`. */
export function deployment(name: string, replicas = 1): NamedObject {
  const labels = { app: name };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [
            { name: "app", image: "registry.k8s.io/pause:3.10", env: [{ name: "MODE", value: "a" }] },
            { name: "sidecar", image: "registry.k8s.io/pause:3.10" },
          ],
        },
      },
    },
  };
}

/** Runs `fn` on every item, at most `concurrency` at a time. */
export async function inBatches<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/**
 * Takes events from a watch until `until` says stop (or the watch ends), then closes it unless `keepOpen`, so that one
 * watch can be read in steps.
 */
export async function collect<E>(
  events: AsyncGenerator<E>,
  until: (seen: readonly E[]) => boolean,
  { keepOpen = false }: { keepOpen?: boolean } = {},
): Promise<E[]> {
  const seen: E[] = [];
  try {
    for (;;) {
      const next = await events.next();
      if (next.done) break;
      seen.push(next.value);
      if (until(seen)) break;
    }
  } finally {
    if (!keepOpen) await events.return(undefined);
  }
  return seen;
}

/** Shortcut type of a namespaced client of plain objects. */
export type Client = ResourceClient<KubeObject>;

/** A transport and dynamic client for the kubeconfig at `path` (a minted user's, say); close the transport when done. */
export function clientFor(kubeconfig: string, options: TransportOptions = {}) {
  const transport = new Transport(loadConfig({ kubeconfig, env: {} }), options);
  return { transport, client: new DynamicClient(transport) };
}
