/**
 * kubeconfig files, read and merged the way client-go's clientcmd does: `KUBECONFIG` lists files (the first to define a
 * cluster, user or context by name wins, whole, and the first `current-context` wins; missing files are skipped), else
 * `~/.kube/config`. Relative paths inside a file are resolved against that file's folder when it is read.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join, resolve, sep } from "node:path";
import { CORE_SCHEMA, loadAll } from "js-yaml";
import { isMap } from "../object/narrow.js";
import { definedProps } from "../util/defined.js";
import { ConfigError } from "./errors.js";
import { resolvePath } from "./paths.js";

/** A named entry of a kubeconfig, with the file it came from (for messages). */
export interface Named<T> {
  readonly name: string;
  readonly value: T;
  readonly file: string;
}

/** The cluster fields of a kubeconfig that kindwatch understands; `certificate-authority` is absolute once read. */
export interface KubeconfigCluster {
  readonly server?: string | undefined;
  readonly "certificate-authority"?: string | undefined;
  readonly "certificate-authority-data"?: string | undefined;
  readonly "insecure-skip-tls-verify"?: boolean | undefined;
  readonly "tls-server-name"?: string | undefined;
  readonly "proxy-url"?: string | undefined;
  readonly "disable-compression"?: boolean | undefined;
  /** `extensions`, by name; `client.authentication.k8s.io/exec` is handed to exec plugins as `spec.cluster.config`. */
  readonly extensions?: Readonly<Record<string, unknown>> | undefined;
}

/** An exec credential plugin's settings (client.authentication.k8s.io); a relative `command` with a `/` is absolute once read. */
export interface ExecConfig {
  readonly command?: string | undefined;
  readonly args?: readonly string[] | undefined;
  readonly env?: readonly { readonly name: string; readonly value: string }[] | undefined;
  readonly apiVersion?: string | undefined;
  readonly installHint?: string | undefined;
  readonly provideClusterInfo?: boolean | undefined;
  readonly interactiveMode?: string | undefined;
}

/** A legacy `auth-provider` entry (only `oidc` is still honoured, by its `id-token`). */
export interface AuthProviderConfig {
  readonly name?: string | undefined;
  readonly config?: Readonly<Record<string, string>> | undefined;
}

/** The user fields of a kubeconfig that kindwatch understands; file paths are absolute once read. */
export interface KubeconfigUser {
  readonly "client-certificate"?: string | undefined;
  readonly "client-certificate-data"?: string | undefined;
  readonly "client-key"?: string | undefined;
  readonly "client-key-data"?: string | undefined;
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly exec?: ExecConfig | undefined;
  readonly "auth-provider"?: AuthProviderConfig | undefined;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  readonly as?: string | undefined;
  readonly "as-uid"?: string | undefined;
  readonly "as-groups"?: readonly string[] | undefined;
  readonly "as-user-extra"?: Readonly<Record<string, readonly string[]>> | undefined;
}

/** A context: which cluster, which user, which namespace. */
export interface KubeconfigContext {
  readonly cluster?: string | undefined;
  readonly user?: string | undefined;
  readonly namespace?: string | undefined;
}

/** One or more kubeconfig files merged. */
export interface Kubeconfig {
  /** The files that were read, in order of precedence. */
  readonly files: readonly string[];
  readonly currentContext?: string | undefined;
  readonly clusters: readonly Named<KubeconfigCluster>[];
  readonly users: readonly Named<KubeconfigUser>[];
  readonly contexts: readonly Named<KubeconfigContext>[];
}

/** Reads typed fields of one mapping, failing with the field's place in the file and what it must be. */
class Fields {
  constructor(
    private readonly raw: Record<string, unknown>,
    private readonly where: string,
  ) {}

  #fail(key: string, what: string): never {
    throw new ConfigError(`${this.where}: '${key}' must be ${what}; fix that field`);
  }

  string(key: string): string | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null || v === "") return undefined;
    return typeof v === "string" ? v : this.#fail(key, "a string");
  }

  boolean(key: string): boolean | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    return typeof v === "boolean" ? v : this.#fail(key, "true or false");
  }

  strings(key: string): string[] | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) this.#fail(key, "a list of strings");
    return v as string[];
  }

  record(key: string): Record<string, unknown> | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    return isMap(v) ? v : this.#fail(key, "a mapping");
  }

  list(key: string): unknown[] | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    return Array.isArray(v) ? v : this.#fail(key, "a list");
  }

  /** A path, resolved against the kubeconfig's folder as client-go's ResolveLocalPaths does. */
  path(key: string, file: string): string | undefined {
    const v = this.string(key);
    return v === undefined ? undefined : resolvePath(v, file);
  }
}

/** Leaves out undefined fields, so that parsed entries compare and print cleanly. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function parseCluster(raw: Record<string, unknown>, where: string, file: string): KubeconfigCluster {
  const f = new Fields(raw, where);
  let extensions: Record<string, unknown> | undefined;
  for (const item of f.list("extensions") ?? []) {
    if (!isMap(item) || typeof item.name !== "string") {
      throw new ConfigError(`${where}: each of 'extensions' needs a name and an extension; fix that list`);
    }
    extensions = { ...extensions, [item.name]: item.extension };
  }
  return defined({
    server: f.string("server"),
    "certificate-authority": f.path("certificate-authority", file),
    "certificate-authority-data": f.string("certificate-authority-data"),
    "insecure-skip-tls-verify": f.boolean("insecure-skip-tls-verify"),
    "tls-server-name": f.string("tls-server-name"),
    "proxy-url": f.string("proxy-url"),
    "disable-compression": f.boolean("disable-compression"),
    extensions,
  });
}

function parseExec(raw: Record<string, unknown>, where: string, file: string): ExecConfig {
  const f = new Fields(raw, `${where}: exec`);
  const command = f.string("command");
  const env = (f.list("env") ?? []).map((item) => {
    const e = new Fields(isMap(item) ? item : {}, `${where}: exec env`);
    return { name: e.string("name") ?? "", value: e.string("value") ?? "" };
  });
  return defined({
    // Only a command with a path separator is a file path; a bare name is looked up on PATH.
    command: command?.includes(sep) ? resolvePath(command, file) : command,
    args: f.strings("args"),
    env: env.length > 0 ? env : undefined,
    apiVersion: f.string("apiVersion"),
    installHint: f.string("installHint"),
    provideClusterInfo: f.boolean("provideClusterInfo"),
    interactiveMode: f.string("interactiveMode"),
  });
}

function parseUser(raw: Record<string, unknown>, where: string, file: string): KubeconfigUser {
  const f = new Fields(raw, where);
  const exec = f.record("exec");
  const provider = f.record("auth-provider");
  const extra = f.record("as-user-extra");
  const extraFields = extra ? new Fields(extra, `${where}: as-user-extra`) : undefined;
  const providerFields = provider ? new Fields(provider, `${where}: auth-provider`) : undefined;
  const providerConfig = providerFields?.record("config");
  return defined({
    "client-certificate": f.path("client-certificate", file),
    "client-certificate-data": f.string("client-certificate-data"),
    "client-key": f.path("client-key", file),
    "client-key-data": f.string("client-key-data"),
    token: f.string("token"),
    tokenFile: f.path("tokenFile", file),
    exec: exec ? parseExec(exec, where, file) : undefined,
    "auth-provider": providerFields
      ? defined({
          name: providerFields.string("name"),
          config: providerConfig
            ? Object.fromEntries(
                Object.entries(providerConfig).filter((e): e is [string, string] => typeof e[1] === "string"),
              )
            : undefined,
        })
      : undefined,
    username: f.string("username"),
    password: f.string("password"),
    as: f.string("as"),
    "as-uid": f.string("as-uid"),
    "as-groups": f.strings("as-groups"),
    "as-user-extra": extra
      ? Object.fromEntries(Object.keys(extra).map((k) => [k, extraFields?.strings(k) ?? []]))
      : undefined,
  });
}

function parseContext(raw: Record<string, unknown>, where: string): KubeconfigContext {
  const f = new Fields(raw, where);
  return defined({ cluster: f.string("cluster"), user: f.string("user"), namespace: f.string("namespace") });
}

function entries<T>(
  list: unknown,
  field: "cluster" | "user" | "context",
  file: string,
  read: (raw: Record<string, unknown>, where: string) => T,
): Named<T>[] {
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new ConfigError(`${file}: '${field}s' must be a list; fix that field`);
  const seen = new Set<string>();
  return list.map((raw) => {
    const item = isMap(raw) ? raw : {};
    if (typeof item.name !== "string" || !item.name) {
      throw new ConfigError(`${file}: an entry of '${field}s' has no name; give it one`);
    }
    // clientcmd refuses a file that defines a name twice, rather than guessing which entry was meant.
    if (seen.has(item.name)) {
      throw new ConfigError(`${file}: ${field} "${item.name}" is defined twice; remove one of them`);
    }
    seen.add(item.name);
    const where = `${file}: ${field} "${item.name}"`;
    const body = item[field];
    if (body !== undefined && body !== null && !isMap(body)) {
      throw new ConfigError(`${where}: '${field}' must be a mapping; fix that entry`);
    }
    return { name: item.name, value: read(body ?? {}, where), file };
  });
}

/** The files a kubeconfig is read from: `KUBECONFIG`'s list (empty entries and repeats dropped), else `~/.kube/config`. */
export function kubeconfigPaths(env: NodeJS.ProcessEnv = process.env): string[] {
  const list = [...new Set((env.KUBECONFIG ?? "").split(delimiter).filter(Boolean))];
  return list.length > 0 ? list : [join(env.HOME || homedir(), ".kube", "config")];
}

/** Parses one kubeconfig document; `file` names it in messages and anchors its relative paths. */
export function parseKubeconfig(text: string, file: string): Kubeconfig {
  let doc: unknown;
  try {
    // js-yaml rather than yaml, which kindwatch uses elsewhere: every command reads the kubeconfig, and js-yaml loads
    // and parses one in a quarter of the time. The core schema, as yaml's default: an `expiry` stays a string.
    // loadAll, since load refuses an empty file, which clientcmd reads as an empty kubeconfig.
    const docs = loadAll(text, { schema: CORE_SCHEMA, filename: file });
    if (docs.length > 1) throw new Error(`${docs.length} YAML documents where a kubeconfig is one`);
    doc = docs[0];
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).split("\n")[0]?.replace(/:$/, "");
    throw new ConfigError(`${file} is not valid YAML (${reason}); fix it or point KUBECONFIG elsewhere`);
  }
  if (doc === null || doc === undefined) return { files: [file], clusters: [], users: [], contexts: [] };
  if (!isMap(doc)) {
    throw new ConfigError(
      `${file} is not a kubeconfig (expected a mapping with clusters, users and contexts); fix it or point KUBECONFIG elsewhere`,
    );
  }
  const current = new Fields(doc, file).string("current-context");
  return {
    files: [file],
    ...definedProps({ currentContext: current || undefined }),
    clusters: entries(doc.clusters, "cluster", file, (raw, where) => parseCluster(raw, where, file)),
    users: entries(doc.users, "user", file, (raw, where) => parseUser(raw, where, file)),
    contexts: entries(doc.contexts, "context", file, parseContext),
  };
}

/** Merges kubeconfigs in order of precedence: per name the first entry wins whole, as clientcmd merges. */
export function mergeKubeconfigs(configs: readonly Kubeconfig[]): Kubeconfig {
  const first = <T>(pick: (c: Kubeconfig) => readonly Named<T>[]) => {
    const seen = new Map<string, Named<T>>();
    for (const c of configs) for (const e of pick(c)) if (!seen.has(e.name)) seen.set(e.name, e);
    return [...seen.values()];
  };
  const currentContext = configs.find((c) => c.currentContext)?.currentContext;
  return {
    files: configs.flatMap((c) => c.files),
    ...definedProps({ currentContext }),
    clusters: first((c) => c.clusters),
    users: first((c) => c.users),
    contexts: first((c) => c.contexts),
  };
}

/**
 * Reads and merges kubeconfig files. Missing files are skipped, as clientcmd skips them in a `KUBECONFIG` list; it is
 * an error when none exists.
 */
export function readKubeconfig(paths: readonly string[] = kubeconfigPaths()): Kubeconfig {
  const configs: Kubeconfig[] = [];
  for (const path of paths) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") continue;
      throw new ConfigError(
        `cannot read kubeconfig ${path} (${code ?? err}); fix its permissions or remove it from KUBECONFIG`,
      );
    }
    configs.push(parseKubeconfig(text, resolve(path)));
  }
  if (configs.length === 0) {
    throw new ConfigError(`no kubeconfig at ${paths.join(", ")}: set KUBECONFIG or pass a kubeconfig path`);
  }
  return mergeKubeconfigs(configs);
}
