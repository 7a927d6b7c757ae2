/**
 * kubeconfig files, read and merged the way kubectl does: `KUBECONFIG` lists files (the first to define a cluster,
 * user or context by name wins, and the first `current-context` wins), else `~/.kube/config`. Paths inside a file are
 * relative to that file.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { parse } from "yaml";
import { authFor } from "./auth.js";
import { ConfigError } from "./errors.js";
import { resolvePath } from "./paths.js";
import type { ClusterConfig, Impersonation, TlsConfig } from "./types.js";

/** A named entry of a kubeconfig, with the file it came from (for relative paths). */
export interface Named<T> {
  readonly name: string;
  readonly value: T;
  readonly file: string;
}

/** The cluster fields of a kubeconfig that kindwatch understands. */
export interface KubeconfigCluster {
  readonly server?: string;
  readonly "certificate-authority"?: string;
  readonly "certificate-authority-data"?: string;
  readonly "insecure-skip-tls-verify"?: boolean;
  readonly "tls-server-name"?: string;
  readonly "proxy-url"?: string;
}

/** An exec credential plugin's settings (client.authentication.k8s.io). */
export interface ExecConfig {
  readonly command: string;
  readonly args?: readonly string[];
  readonly env?: readonly { name: string; value: string }[];
  readonly apiVersion?: string;
  readonly installHint?: string;
  readonly provideClusterInfo?: boolean;
  readonly interactiveMode?: string;
}

/** The user fields of a kubeconfig that kindwatch understands. */
export interface KubeconfigUser {
  readonly "client-certificate"?: string;
  readonly "client-certificate-data"?: string;
  readonly "client-key"?: string;
  readonly "client-key-data"?: string;
  readonly token?: string;
  readonly tokenFile?: string;
  readonly exec?: ExecConfig;
  readonly "auth-provider"?: { name?: string };
  readonly username?: string;
  readonly as?: string;
  readonly "as-uid"?: string;
  readonly "as-groups"?: readonly string[];
  readonly "as-user-extra"?: Readonly<Record<string, readonly string[]>>;
}

/** A context: which cluster, which user, which namespace. */
export interface KubeconfigContext {
  readonly cluster?: string;
  readonly user?: string;
  readonly namespace?: string;
}

/** One or more kubeconfig files merged. */
export interface Kubeconfig {
  readonly files: readonly string[];
  readonly currentContext?: string;
  readonly clusters: readonly Named<KubeconfigCluster>[];
  readonly users: readonly Named<KubeconfigUser>[];
  readonly contexts: readonly Named<KubeconfigContext>[];
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function entries<T>(list: unknown, field: string, file: string): Named<T>[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new ConfigError(`${file}: '${field}s' must be a list`);
  return list.map((raw) => {
    const item = record(raw);
    if (typeof item.name !== "string" || !item.name) throw new ConfigError(`${file}: a ${field} entry has no name`);
    return { name: item.name, value: record(item[field]) as T, file };
  });
}

/** The files a kubeconfig is read from: `KUBECONFIG`'s list, else `~/.kube/config`. */
export function kubeconfigPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const list = (env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  return list.length > 0 ? list : [join(env.HOME || homedir(), ".kube", "config")];
}

/** Parses one kubeconfig document; `file` is used for messages and relative paths. */
export function parseKubeconfig(text: string, file: string): Kubeconfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new ConfigError(`${file} is not valid YAML (${reason}); fix it or point KUBECONFIG elsewhere`);
  }
  if (doc !== null && doc !== undefined && (typeof doc !== "object" || Array.isArray(doc))) {
    throw new ConfigError(`${file} is not a kubeconfig (expected a mapping with clusters, users and contexts)`);
  }
  const d = record(doc);
  const current = d["current-context"];
  return {
    files: [file],
    ...(typeof current === "string" && current ? { currentContext: current } : {}),
    clusters: entries<KubeconfigCluster>(d.clusters, "cluster", file),
    users: entries<KubeconfigUser>(d.users, "user", file),
    contexts: entries<KubeconfigContext>(d.contexts, "context", file),
  };
}

/** Merges kubeconfigs in order of precedence: for each name, the first one wins, as kubectl merges. */
export function mergeKubeconfigs(configs: readonly Kubeconfig[]): Kubeconfig {
  const first = <T>(pick: (c: Kubeconfig) => readonly Named<T>[]) => {
    const seen = new Map<string, Named<T>>();
    for (const c of configs) for (const e of pick(c)) if (!seen.has(e.name)) seen.set(e.name, e);
    return [...seen.values()];
  };
  const currentContext = configs.find((c) => c.currentContext)?.currentContext;
  return {
    files: configs.flatMap((c) => c.files),
    ...(currentContext ? { currentContext } : {}),
    clusters: first((c) => c.clusters),
    users: first((c) => c.users),
    contexts: first((c) => c.contexts),
  };
}

/** Reads and merges kubeconfig files; missing files in a `KUBECONFIG` list are skipped, as kubectl skips them. */
export function readKubeconfig(paths: readonly string[] = kubeconfigPaths()): Kubeconfig {
  const configs: Kubeconfig[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new ConfigError(`cannot read kubeconfig ${path}: ${(err as Error).message}`);
    }
    configs.push(parseKubeconfig(text, resolve(path)));
  }
  if (configs.length === 0) {
    throw new ConfigError(
      `no kubeconfig found at ${paths.join(", ")}: set KUBECONFIG or --kubeconfig to a kubeconfig file`,
    );
  }
  return mergeKubeconfigs(configs);
}

function readPem(data: string | undefined, path: string | undefined, file: string, what: string): string | undefined {
  if (data) return Buffer.from(data, "base64").toString("utf8");
  if (!path) return undefined;
  const full = resolvePath(path, file);
  try {
    return readFileSync(full, "utf8");
  } catch (err) {
    throw new ConfigError(`${file}: cannot read ${what} ${full}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

/** Options of {@link configFromKubeconfig}. */
export interface KubeconfigOptions {
  /** The context to use; default the kubeconfig's current context. */
  readonly context?: string;
  /** Overrides the context's namespace. */
  readonly namespace?: string;
}

/** Resolves one context of a (merged) kubeconfig into a {@link ClusterConfig}. */
export function configFromKubeconfig(kc: Kubeconfig, options: KubeconfigOptions = {}): ClusterConfig {
  const where = kc.files.join(":");
  const contextName = options.context ?? kc.currentContext;
  if (!contextName) {
    throw new ConfigError(`${where} sets no current-context: pass --context or run 'kubectl config use-context NAME'`);
  }
  const context = kc.contexts.find((c) => c.name === contextName);
  if (!context) {
    const known = kc.contexts.map((c) => c.name).join(", ") || "none";
    throw new ConfigError(`context "${contextName}" is not in ${where} (contexts: ${known})`);
  }
  const cluster = kc.clusters.find((c) => c.name === context.value.cluster);
  if (!cluster) {
    throw new ConfigError(
      `context "${contextName}" names cluster "${context.value.cluster ?? ""}", which ${where} lacks`,
    );
  }
  const c = cluster.value;
  if (typeof c.server !== "string" || !c.server) {
    throw new ConfigError(`cluster "${cluster.name}" in ${cluster.file} has no server URL`);
  }
  try {
    new URL(c.server);
  } catch {
    throw new ConfigError(`cluster "${cluster.name}" in ${cluster.file} has an invalid server URL: ${c.server}`);
  }
  const userEntry = context.value.user ? kc.users.find((u) => u.name === context.value.user) : undefined;
  if (context.value.user && !userEntry) {
    throw new ConfigError(`context "${contextName}" names user "${context.value.user}", which ${where} lacks`);
  }
  const u: KubeconfigUser = userEntry?.value ?? {};
  const userFile = userEntry?.file ?? cluster.file;
  const ca = readPem(
    c["certificate-authority-data"],
    c["certificate-authority"],
    cluster.file,
    "certificate-authority",
  );
  const cert = readPem(u["client-certificate-data"], u["client-certificate"], userFile, "client-certificate");
  const key = readPem(u["client-key-data"], u["client-key"], userFile, "client-key");
  if (Boolean(cert) !== Boolean(key)) {
    throw new ConfigError(
      `user "${userEntry?.name}" in ${userFile} has a client certificate without its key, or a key without its certificate`,
    );
  }
  const tls: TlsConfig = {
    ...(ca ? { ca } : {}),
    ...(cert && key ? { cert, key } : {}),
    ...(c["insecure-skip-tls-verify"] === true ? { insecureSkipVerify: true } : {}),
    ...(c["tls-server-name"] ? { serverName: c["tls-server-name"] } : {}),
  };
  const impersonate: Impersonation | undefined = u.as
    ? {
        user: u.as,
        ...(u["as-uid"] ? { uid: u["as-uid"] } : {}),
        ...(u["as-groups"] ? { groups: u["as-groups"] } : {}),
        ...(u["as-user-extra"] ? { extra: u["as-user-extra"] } : {}),
      }
    : undefined;
  return {
    server: c.server.replace(/\/+$/, ""),
    tls,
    auth: authFor(u, userFile, { server: c.server, ...(ca ? { ca } : {}) }, Boolean(cert)),
    namespace: options.namespace ?? context.value.namespace ?? "default",
    ...(impersonate ? { impersonate } : {}),
    source: `context "${contextName}" in ${where}`,
  };
}

/** Loads a kubeconfig (`KUBECONFIG`, `~/.kube/config`, or `paths`) and resolves a context of it. */
export function loadKubeconfig(options: KubeconfigOptions & { paths?: readonly string[] } = {}): ClusterConfig {
  return configFromKubeconfig(readKubeconfig(options.paths ?? kubeconfigPaths()), options);
}
