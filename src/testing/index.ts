/**
 * `kindwatch/testing`: a real kube-apiserver and etcd for your tests, the TypeScript counterpart of Go's envtest.
 *
 * The entry point's public surface, named one by one (`api/kindwatch-testing.api.md` is its reviewed report).
 *
 * @example
 * ```ts
 * const cluster = await TestCluster.start();        // builds the binaries on first use, then starts in seconds
 * const full = await TestCluster.start({ controlPlane: "full" });   // controllers, scheduler and fake nodes too
 * try { ... use cluster.kubeconfigPath ... } finally { await cluster.stop(); }
 * ```
 *
 * @packageDocumentation
 * @module kindwatch/testing
 */
export { attachCluster, attachKubeconfig, type ClusterState, writeClusterState } from "./attach.js";
export {
  type Binaries,
  type ControlPlane,
  defaultCacheDir,
  type EnsureBinariesOptions,
  ETCD_VERSION,
  ensureBinaries,
  KUBERNETES_VERSION,
  KWOK_VERSION,
} from "./binaries.js";
export { CertificateAuthority, type CertificateRequest, type KeyPair } from "./certs.js";
export {
  type ClusterAccess,
  type RbacSubject,
  TestCluster,
  type TestClusterOptions,
  type TestUser,
} from "./cluster.js";
export { DEFAULT_NODE_CAPACITY, type FakeNodesOptions } from "./controlplane.js";
export { kubeconfigYaml } from "./kubeconfig.js";
export { type Credentials, type SimpleResponse, simpleRequest } from "./request.js";
