/** Finding and resolving cluster configuration: kubeconfig files, contexts, credentials, in-cluster. */
import { existsSync } from "node:fs";
import { ConfigError } from "./errors.js";
import { inClusterConfig, isInCluster } from "./incluster.js";
import { kubeconfigPaths, loadKubeconfig } from "./kubeconfig.js";
import type { ClusterConfig } from "./types.js";

export { authFor, type ClusterInfo, tokenFileAuth, tokenFileRefreshMs } from "./auth.js";
export { ConfigError } from "./errors.js";
export { execAuth, parseExecCredential } from "./exec.js";
export { inClusterConfig, isInCluster, serviceAccountDir } from "./incluster.js";
export {
  configFromKubeconfig,
  type ExecConfig,
  type Kubeconfig,
  type KubeconfigCluster,
  type KubeconfigContext,
  type KubeconfigOptions,
  type KubeconfigUser,
  kubeconfigPaths,
  loadKubeconfig,
  mergeKubeconfigs,
  type Named,
  parseKubeconfig,
  readKubeconfig,
} from "./kubeconfig.js";
export * from "./types.js";

/** Where to find a cluster; every field optional. */
export interface LoadConfigOptions {
  /** A kubeconfig file (kubectl's `--kubeconfig`); wins over `KUBECONFIG`. */
  readonly kubeconfig?: string;
  /** The context to use (kubectl's `--context`). */
  readonly context?: string;
  /** Overrides the default namespace (kubectl's `-n`). */
  readonly namespace?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * The cluster to talk to, found as controller-runtime finds it: an explicit kubeconfig, else `KUBECONFIG`, else
 * in-cluster when running in a pod, else `~/.kube/config`.
 */
export function loadConfig(options: LoadConfigOptions = {}): ClusterConfig {
  const env = options.env ?? process.env;
  const rest = {
    ...(options.context ? { context: options.context } : {}),
    ...(options.namespace ? { namespace: options.namespace } : {}),
  };
  if (options.kubeconfig) return loadKubeconfig({ ...rest, paths: [options.kubeconfig] });
  if (env.KUBECONFIG) return loadKubeconfig({ ...rest, paths: kubeconfigPaths(env) });
  if (isInCluster(env)) {
    const config = inClusterConfig(env);
    return options.namespace ? { ...config, namespace: options.namespace } : config;
  }
  const home = kubeconfigPaths({ ...env, KUBECONFIG: "" });
  if (!home.some((p) => existsSync(p))) {
    throw new ConfigError(`no kubeconfig at ${home.join(", ")} and not in a pod: set KUBECONFIG or pass --kubeconfig`);
  }
  return loadKubeconfig({ ...rest, paths: home });
}
