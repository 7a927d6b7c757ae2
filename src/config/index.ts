/** Finding and resolving cluster configuration: kubeconfig files, contexts, credentials, in-cluster. */
import { existsSync } from "node:fs";
import type { KubeconfigOptions } from "./context.js";
import { configFromKubeconfig } from "./context.js";
import { ConfigError } from "./errors.js";
import { inClusterConfig, isInCluster, serviceAccountDir } from "./incluster.js";
import { kubeconfigPaths, readKubeconfig } from "./kubeconfig.js";
import type { ClusterConfig } from "./types.js";

export { type AuthContext, authFor, type TokenFileOptions, tokenFileAuth, tokenFileRefreshMs } from "./auth.js";
export { configFromKubeconfig, type KubeconfigOptions, loadKubeconfig } from "./context.js";
export { ConfigError } from "./errors.js";
export { type ClusterInfo, type ExecAuthOptions, type ExecResult, execAuth, parseExecCredential } from "./exec.js";
export { type InClusterOptions, inClusterConfig, isInCluster, serviceAccountDir } from "./incluster.js";
export {
  type AuthProviderConfig,
  type ExecConfig,
  type Kubeconfig,
  type KubeconfigCluster,
  type KubeconfigContext,
  type KubeconfigUser,
  kubeconfigPaths,
  mergeKubeconfigs,
  type Named,
  parseKubeconfig,
  readKubeconfig,
} from "./kubeconfig.js";
export * from "./types.js";

/** Where to find a cluster; every field optional. */
export interface LoadConfigOptions {
  /** A kubeconfig file (kubectl's `--kubeconfig`); wins over everything else and must exist. */
  readonly kubeconfig?: string | undefined;
  /** The context to use (kubectl's `--context`); for kubeconfigs only. */
  readonly context?: string | undefined;
  /** Overrides the default namespace (kubectl's `-n`). */
  readonly namespace?: string | undefined;
  /** The environment to read `KUBECONFIG`, `HOME` and `KUBERNETES_SERVICE_*` from; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Where the service-account files are mounted; default {@link serviceAccountDir}. */
  readonly serviceAccountDir?: string | undefined;
  /** Milliseconds since the epoch, for token re-reads and credential expiry; default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/**
 * The cluster to talk to, found as controller-runtime finds it: an explicit kubeconfig, else the files in
 * `KUBECONFIG`, else in-cluster when running in a pod with a service-account token, else `~/.kube/config`.
 */
export function loadConfig(options: LoadConfigOptions = {}): ClusterConfig {
  const env = options.env ?? process.env;
  const resolve: KubeconfigOptions = {
    context: options.context || undefined,
    namespace: options.namespace || undefined,
    now: options.now,
  };
  if (options.kubeconfig) {
    if (!existsSync(options.kubeconfig)) {
      throw new ConfigError(`kubeconfig ${options.kubeconfig} does not exist; check the path you passed`);
    }
    return configFromKubeconfig(readKubeconfig([options.kubeconfig]), resolve);
  }
  if (env.KUBECONFIG) return configFromKubeconfig(readKubeconfig(kubeconfigPaths(env)), resolve);
  const dir = options.serviceAccountDir ?? serviceAccountDir;
  if (isInCluster(env, dir)) {
    const config = inClusterConfig(env, dir, { now: options.now });
    return options.namespace ? { ...config, namespace: options.namespace } : config;
  }
  const home = kubeconfigPaths({ ...env, KUBECONFIG: "" });
  if (!home.some((p) => existsSync(p))) {
    throw new ConfigError(`no kubeconfig at ${home.join(", ")} and not in a pod; set KUBECONFIG or pass a kubeconfig`);
  }
  return configFromKubeconfig(readKubeconfig(home), resolve);
}
