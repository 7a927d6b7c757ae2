/** In-cluster config: the pod's service-account token (re-read as it rotates), CA and namespace. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tokenFileAuth } from "./auth.js";
import { ConfigError } from "./errors.js";
import type { ClusterConfig } from "./types.js";

/** Where Kubernetes mounts a pod's service-account credentials. */
export const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Whether this process runs in a pod (the API server's address is in its environment). */
export function isInCluster(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT);
}

/** The config of a process running in a pod; `dir` and `env` are for tests. */
export function inClusterConfig(env: NodeJS.ProcessEnv = process.env, dir = serviceAccountDir): ClusterConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new ConfigError("not running in a pod (KUBERNETES_SERVICE_HOST/PORT unset): use a kubeconfig instead");
  }
  const tokenPath = join(dir, "token");
  if (!existsSync(tokenPath)) {
    throw new ConfigError(
      `no service-account token at ${tokenPath}: is automountServiceAccountToken off for this pod?`,
    );
  }
  const caPath = join(dir, "ca.crt");
  const namespacePath = join(dir, "namespace");
  const ca = existsSync(caPath) ? readFileSync(caPath, "utf8") : undefined;
  const namespace = existsSync(namespacePath) ? readFileSync(namespacePath, "utf8").trim() : "default";
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    tls: ca ? { ca } : {},
    auth: tokenFileAuth(tokenPath),
    namespace: namespace || "default",
    source: "in-cluster",
  };
}
