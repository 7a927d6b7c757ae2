/** Setting up transports against the test cluster: the admin's config, a proxy in between, namespaces. */
import { isIP } from "node:net";
import { loadConfig } from "../../src/config/index.js";
import type { ClusterConfig } from "../../src/config/types.js";
import { isAlreadyExists, isNotFound, type Transport } from "../../src/http/index.js";
import type { ClusterAccess } from "../../src/testing/index.js";
import type { TcpProxy } from "./proxy.js";

/** The cluster admin's config, from the cluster's kubeconfig. */
export function adminConfig(cluster: ClusterAccess): ClusterConfig {
  return loadConfig({ kubeconfig: cluster.kubeconfigPath });
}

/**
 * `config` sent through `proxy`. Certificate checks stay on: the harness's serving certificate covers 127.0.0.1, where
 * the proxy listens; for a cluster reached by DNS name, that name is verified instead of the proxy's address.
 */
export function throughProxy(config: ClusterConfig, proxy: TcpProxy): ClusterConfig {
  const host = new URL(config.server).hostname;
  const verifyName = !isIP(host.replace(/^\[|\]$/g, "")) && host !== "localhost";
  return {
    ...config,
    server: proxy.url,
    tls: verifyName && !config.tls.serverName ? { ...config.tls, serverName: host } : config.tls,
    source: `${config.source} through a test proxy`,
  };
}

/** Creates a namespace (fine if it exists). */
export async function createNamespace(transport: Transport, name: string): Promise<void> {
  try {
    await transport.request({ method: "POST", path: "/api/v1/namespaces", body: { metadata: { name } } });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/** Deletes a cluster-scoped or namespaced object by path (fine if it is gone). */
export async function deletePath(transport: Transport, path: string): Promise<void> {
  try {
    await transport.request({ method: "DELETE", path });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
