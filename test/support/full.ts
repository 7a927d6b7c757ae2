/** The full-plane cluster that the test runner starts for `test/full/`: controllers, scheduler and KWOK's fake nodes. */
import { attachCluster, type ClusterAccess } from "../../src/testing/index.js";
import { type ClientEnv, clientEnv } from "./client.js";

/**
 * The full-plane cluster: `KINDWATCH_TEST_FULL_CLUSTER` (a state file, set by kindwatch's test runner) or
 * `KINDWATCH_TEST_FULL_KUBECONFIG` (any cluster with controllers, a scheduler and nodes).
 */
export function attachFullCluster(env: NodeJS.ProcessEnv = process.env): Promise<ClusterAccess> {
  if (!env.KINDWATCH_TEST_FULL_CLUSTER && !env.KINDWATCH_TEST_FULL_KUBECONFIG) {
    throw new Error(
      "no full-plane test cluster: run the tests with 'node dist/test/run.js full' (it starts one), or set KINDWATCH_TEST_FULL_KUBECONFIG",
    );
  }
  return attachCluster({
    KINDWATCH_TEST_CLUSTER: env.KINDWATCH_TEST_FULL_CLUSTER,
    KINDWATCH_TEST_KUBECONFIG: env.KINDWATCH_TEST_FULL_KUBECONFIG,
  });
}

/** {@link clientEnv} on the full-plane cluster. */
export function fullClientEnv(prefix: string): Promise<ClientEnv> {
  return clientEnv(prefix, () => attachFullCluster());
}
