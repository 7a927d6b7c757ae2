/** Resolves one context of a (merged) kubeconfig into a {@link ClusterConfig}, checking it as clientcmd does. */

import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { definedProps } from "../util/defined.js";
import { authFor } from "./auth.js";
import { ConfigError } from "./errors.js";
import {
  type Kubeconfig,
  type KubeconfigCluster,
  type KubeconfigUser,
  kubeconfigPaths,
  readKubeconfig,
} from "./kubeconfig.js";
import { type ClusterConfig, type Impersonation, noAuth, type TlsConfig } from "./types.js";

/** Options of {@link configFromKubeconfig}. */
export interface KubeconfigOptions {
  /** The context to use; default the kubeconfig's current context. */
  readonly context?: string | undefined;
  /** Overrides the context's namespace. */
  readonly namespace?: string | undefined;
  /** Milliseconds since the epoch, for token-file re-reads and credential expiry; default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

const execExtension = "client.authentication.k8s.io/exec";

/** A PEM from inline base64 data or from a file; both at once is an error, as in clientcmd. */
function readPem(
  data: string | undefined,
  path: string | undefined,
  where: string,
  field: string,
  kind: "certificate" | "key",
): string | undefined {
  if (data && path) throw new ConfigError(`${where} has both ${field} and ${field}-data; keep one`);
  let pem: string | undefined;
  if (data) pem = Buffer.from(data, "base64").toString("utf8");
  else if (path) {
    try {
      pem = readFileSync(path, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new ConfigError(`${where}: cannot read ${field} ${path} (${code}); fix the path`);
    }
  }
  if (pem === undefined) return undefined;
  try {
    if (kind === "certificate") new X509Certificate(pem);
    else createPrivateKey(pem);
  } catch {
    throw new ConfigError(`${where}: ${field}${data ? "-data" : ` ${path}`} is not a PEM ${kind}; fix it`);
  }
  return pem;
}

/**
 * The server URL as client-go reads it: `host:port` without a scheme means https when TLS is configured (a CA, a
 * client certificate or insecure-skip-tls-verify), else http.
 */
function serverUrl(cluster: KubeconfigCluster, where: string, tls: boolean): URL {
  const server = cluster.server;
  if (!server) throw new ConfigError(`${where} has no server; set clusters[].cluster.server to https://HOST:PORT`);
  const withScheme = server.includes("://") ? server : `${tls ? "https" : "http"}://${server}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConfigError(`${where} has an invalid server URL "${server}"; use https://HOST:PORT`);
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.search || url.hash) {
    throw new ConfigError(`${where} has an invalid server URL "${server}"; use https://HOST:PORT`);
  }
  return url;
}

function impersonation(u: KubeconfigUser, where: string): Impersonation | undefined {
  const groups = u["as-groups"] ?? [];
  const extra = u["as-user-extra"] ?? {};
  if (!u.as) {
    if (u["as-uid"] || groups.length > 0 || Object.keys(extra).length > 0) {
      throw new ConfigError(`${where} sets as-uid, as-groups or as-user-extra without 'as'; add the user to act as`);
    }
    return undefined;
  }
  return {
    user: u.as,
    ...definedProps({
      uid: u["as-uid"] || undefined,
      groups: groups.length > 0 ? groups : undefined,
      extra: Object.keys(extra).length > 0 ? extra : undefined,
    }),
  };
}

/** Resolves one context of a (merged) kubeconfig into a {@link ClusterConfig}. */
export function configFromKubeconfig(kc: Kubeconfig, options: KubeconfigOptions = {}): ClusterConfig {
  const files = kc.files.join(", ");
  const contextName = options.context ?? kc.currentContext;
  if (!contextName) {
    throw new ConfigError(`${files} sets no current-context; pass a context or run 'kubectl config use-context NAME'`);
  }
  const context = kc.contexts.find((c) => c.name === contextName);
  if (!context) {
    const known = kc.contexts.map((c) => c.name).join(", ") || "none";
    throw new ConfigError(`context "${contextName}" is not in ${files} (it has: ${known}); pick one of those`);
  }
  const contextWhere = `context "${contextName}" in ${context.file}`;
  if (!context.value.cluster) throw new ConfigError(`${contextWhere} names no cluster; set contexts[].context.cluster`);
  const cluster = kc.clusters.find((c) => c.name === context.value.cluster);
  if (!cluster) {
    throw new ConfigError(`${contextWhere} names cluster "${context.value.cluster}", which ${files} lacks; add it`);
  }
  const userEntry = context.value.user ? kc.users.find((u) => u.name === context.value.user) : undefined;
  if (context.value.user && !userEntry) {
    throw new ConfigError(`${contextWhere} names user "${context.value.user}", which ${files} lacks; add it`);
  }
  const c = cluster.value;
  const u: KubeconfigUser = userEntry?.value ?? {};
  const clusterWhere = `cluster "${cluster.name}" in ${cluster.file}`;
  const userWhere = userEntry ? `user "${userEntry.name}" in ${userEntry.file}` : `${contextWhere} (no user)`;

  const ca = readPem(
    c["certificate-authority-data"],
    c["certificate-authority"],
    clusterWhere,
    "certificate-authority",
    "certificate",
  );
  const insecure = c["insecure-skip-tls-verify"] === true;
  if (ca && insecure) {
    throw new ConfigError(`${clusterWhere} sets both a certificate-authority and insecure-skip-tls-verify; keep one`);
  }
  const cert = readPem(
    u["client-certificate-data"],
    u["client-certificate"],
    userWhere,
    "client-certificate",
    "certificate",
  );
  const key = readPem(u["client-key-data"], u["client-key"], userWhere, "client-key", "key");
  if (cert && !key) throw new ConfigError(`${userWhere} has a client-certificate but no client-key; add client-key`);
  if (key && !cert) throw new ConfigError(`${userWhere} has a client-key but no client-certificate; add it`);
  const url = serverUrl(c, clusterWhere, Boolean(ca || cert || insecure));
  const proxy = c["proxy-url"];
  if (proxy && !/^(https?|socks5):\/\/[^/]/.test(proxy)) {
    throw new ConfigError(
      `${clusterWhere} has an invalid proxy-url "${proxy}"; use http://, https:// or socks5://HOST:PORT`,
    );
  }
  const server = url.href.replace(/\/+$/, "");
  const secure = url.protocol === "https:";
  const tls: TlsConfig = secure
    ? definedProps({
        ca: ca || undefined,
        ...(cert && key ? { cert, key } : {}),
        insecureSkipVerify: insecure || undefined,
        serverName: c["tls-server-name"] || undefined,
      })
    : {};
  const impersonate = impersonation(u, userWhere);
  return {
    server,
    tls,
    // As client-go: credentials are only ever sent over TLS, never to a plain-http server.
    auth: secure
      ? authFor(u, {
          where: userWhere,
          hasClientCert: Boolean(cert),
          cluster: {
            server,
            ca: ca || undefined,
            serverName: c["tls-server-name"] || undefined,
            insecureSkipVerify: insecure || undefined,
            proxyUrl: c["proxy-url"] || undefined,
            disableCompression: c["disable-compression"] || undefined,
            config: c.extensions?.[execExtension],
          },
          now: options.now,
        })
      : noAuth,
    namespace: options.namespace ?? context.value.namespace ?? "default",
    ...definedProps({ impersonate, proxyUrl: c["proxy-url"] || undefined }),
    source: `context "${contextName}" in ${files}`,
  };
}

/** Loads a kubeconfig (`paths`, else `KUBECONFIG`, else `~/.kube/config`) and resolves a context of it. */
export function loadKubeconfig(
  options: KubeconfigOptions & { readonly paths?: readonly string[] } = {},
): ClusterConfig {
  return configFromKubeconfig(readKubeconfig(options.paths ?? kubeconfigPaths()), options);
}
