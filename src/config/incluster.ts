/** In-cluster config, as client-go's rest.InClusterConfig: the pod's service-account token (re-read as it rotates) and CA. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { tokenFileAuth } from "./auth.js";
import { ConfigError } from "./errors.js";
import type { ClusterConfig } from "./types.js";

/** Where Kubernetes mounts a pod's service-account credentials. */
export const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * Whether in-cluster config is possible: the API server's address is in the environment and a service-account token
 * is mounted (client-go's test; without the token, a pod with automountServiceAccountToken off falls back to a
 * kubeconfig).
 */
export function isInCluster(env: NodeJS.ProcessEnv = process.env, dir = serviceAccountDir): boolean {
  if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) return false;
  try {
    return statSync(join(dir, "token")).isFile();
  } catch {
    return false;
  }
}

/** Options of {@link inClusterConfig}. */
export interface InClusterOptions {
  /** Milliseconds since the epoch, for token re-reads; default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** The config of a process running in a pod; `env` and `dir` are for tests. */
export function inClusterConfig(
  env: NodeJS.ProcessEnv = process.env,
  dir = serviceAccountDir,
  options: InClusterOptions = {},
): ClusterConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new ConfigError("not running in a pod (KUBERNETES_SERVICE_HOST/PORT unset); use a kubeconfig instead");
  }
  const tokenPath = join(dir, "token");
  let token: string;
  try {
    token = readFileSync(tokenPath, "utf8").trim();
  } catch {
    throw new ConfigError(
      `no service-account token at ${tokenPath}; is automountServiceAccountToken off for this pod?`,
    );
  }
  if (!token) throw new ConfigError(`the service-account token at ${tokenPath} is empty; check the pod's token mount`);
  const caPath = join(dir, "ca.crt");
  const namespacePath = join(dir, "namespace");
  // Without the CA file client-go trusts the system's CAs; so do we.
  const ca = existsSync(caPath) ? readFileSync(caPath, "utf8") : undefined;
  const fileNamespace = existsSync(namespacePath) ? readFileSync(namespacePath, "utf8").trim() : "";
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    tls: ca ? { ca } : {},
    auth: tokenFileAuth(tokenPath, { now: options.now, fallback: token }),
    // POD_NAMESPACE (set through the downward API) wins over the mounted file, as in clientcmd.
    namespace: env.POD_NAMESPACE || fileNamespace || "default",
    source: "in-cluster",
  };
}
