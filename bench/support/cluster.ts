/** The cluster a benchmark runs against: `KINDWATCH_TEST_KUBECONFIG` when set, else a local one started here. */
import { TestCluster } from "../../src/testing/index.js";

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
