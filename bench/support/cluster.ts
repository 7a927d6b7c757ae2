/** The cluster a benchmark runs against: `KINDWATCH_TEST_KUBECONFIG` when set, else a local one started here. */
import { DynamicClient } from "../../src/client/resource.js";
import type { Transport } from "../../src/http/transport.js";
import { TestCluster } from "../../src/testing/index.js";
import { ignoreNotFound } from "./objects.js";

/** A cluster to benchmark against; `stop()` stops it only when this process started it. */
export interface BenchCluster {
  readonly kubeconfigPath: string;
  /** True when this process started the cluster (so nothing else shares it). */
  readonly owned: boolean;
  stop(): Promise<void>;
}

/** Uses `KINDWATCH_TEST_KUBECONFIG`, else starts a local kube-apiserver + etcd. */
export async function benchCluster(log: (line: string) => void): Promise<BenchCluster> {
  const external = process.env.KINDWATCH_TEST_KUBECONFIG;
  if (external) return { kubeconfigPath: external, owned: false, stop: async () => {} };
  const cluster = await TestCluster.start({ log: (line) => log(`[cluster] ${line}`) });
  return { kubeconfigPath: cluster.kubeconfigPath, owned: true, stop: () => cluster.stop() };
}

/**
 * Ends a benchmark: on a cluster it did not start, deletes the CRDs it made (and with them their objects) and its
 * namespace, since a shared cluster keeps what is left; then closes `transport` and stops the cluster if it owns it.
 */
export async function finish(
  cluster: BenchCluster,
  transport: Transport,
  made: { readonly crds: readonly string[]; readonly namespace: string },
): Promise<void> {
  if (!cluster.owned) {
    const client = new DynamicClient(transport);
    const crds = client.resource({
      group: "apiextensions.k8s.io",
      version: "v1",
      resource: "customresourcedefinitions",
    });
    for (let i = 0; i < made.crds.length; i += 8) {
      await Promise.all(made.crds.slice(i, i + 8).map((name) => crds.delete(name).catch(ignoreNotFound)));
    }
    await client
      .resource({ group: "", version: "v1", resource: "namespaces" })
      .delete(made.namespace)
      .catch(ignoreNotFound);
  }
  await transport.close();
  await cluster.stop();
}
