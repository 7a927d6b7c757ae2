/**
 * Exec credential plugins (client.authentication.k8s.io v1 and v1beta1), as client-go runs them: the plugin gets an
 * ExecCredential in `KUBERNETES_EXEC_INFO`, prints one back with a token or a client certificate, and what it printed
 * is used until its `expirationTimestamp` or until the server answers 401. Concurrent callers share one run.
 */
import { spawn } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { asMap } from "../object/narrow.js";
import { untilAborted } from "../util/abort.js";
import { definedProps } from "../util/defined.js";
import { ConfigError } from "./errors.js";
import type { ExecConfig } from "./kubeconfig.js";
import { type AuthCredentials, type AuthProvider, sameCredentials } from "./types.js";

/** What an exec plugin is told about the cluster when it asks for it (`provideClusterInfo`). */
export interface ClusterInfo {
  readonly server: string;
  /** PEM CA bundle; sent base64-encoded as `certificate-authority-data`. */
  readonly ca?: string | undefined;
  readonly serverName?: string | undefined;
  readonly insecureSkipVerify?: boolean | undefined;
  readonly proxyUrl?: string | undefined;
  readonly disableCompression?: boolean | undefined;
  /** The cluster's `client.authentication.k8s.io/exec` extension, sent as `config`. */
  readonly config?: unknown | undefined;
}

/** Test seams of {@link execAuth}. */
export interface ExecAuthOptions {
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** Whether standard input is a terminal the plugin may prompt on; default `process.stdin.isTTY`. */
  readonly isTerminal?: (() => boolean) | undefined;
}

const v1 = "client.authentication.k8s.io/v1";
const v1beta1 = "client.authentication.k8s.io/v1beta1";
const interactiveModes = new Set(["Never", "IfAvailable", "Always"]);

/** Parsed plugin output: the credentials, and when they expire (ms since the epoch; undefined: never). */
export interface ExecResult {
  readonly credentials: AuthCredentials;
  readonly expiresAt: number | undefined;
}

/**
 * Parses what an exec plugin printed. `apiVersion`, when given, is the version the kubeconfig asked for: the plugin
 * must answer in it, as client-go requires.
 */
export function parseExecCredential(text: string, command: string, apiVersion?: string): ExecResult {
  const plugin = `exec plugin "${command}"`;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ConfigError(`${plugin} printed something that is not JSON; it must print an ExecCredential to stdout`);
  }
  const obj = asMap(doc) ?? {};
  if (obj.kind !== "ExecCredential") {
    throw new ConfigError(`${plugin} printed kind "${String(obj.kind ?? "")}", not an ExecCredential; fix the plugin`);
  }
  if (obj.apiVersion !== v1 && obj.apiVersion !== v1beta1) {
    throw new ConfigError(
      `${plugin} printed apiVersion "${String(obj.apiVersion ?? "")}"; it must be ${v1} or ${v1beta1}`,
    );
  }
  if (apiVersion && obj.apiVersion !== apiVersion) {
    throw new ConfigError(
      `${plugin} printed apiVersion ${obj.apiVersion} but the kubeconfig asks for ${apiVersion}; make them match`,
    );
  }
  const status = obj.status;
  if (status === null || typeof status !== "object" || Array.isArray(status)) {
    throw new ConfigError(`${plugin} printed an ExecCredential without a status; fix the plugin`);
  }
  const s = status as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" && v ? v : undefined);
  const token = str(s.token);
  const cert = str(s.clientCertificateData);
  const key = str(s.clientKeyData);
  if (!token && !cert && !key) {
    throw new ConfigError(`${plugin} returned neither a token nor a client certificate and key; fix the plugin`);
  }
  if (Boolean(cert) !== Boolean(key)) {
    throw new ConfigError(`${plugin} returned only a client certificate or only a key, not both; fix the plugin`);
  }
  if (cert && key) {
    try {
      new X509Certificate(cert);
      createPrivateKey(key);
    } catch {
      throw new ConfigError(`${plugin} returned a client certificate or key that is not valid PEM; fix the plugin`);
    }
  }
  let expiresAt: number | undefined;
  if (s.expirationTimestamp !== undefined && s.expirationTimestamp !== null) {
    expiresAt = typeof s.expirationTimestamp === "string" ? Date.parse(s.expirationTimestamp) : Number.NaN;
    if (Number.isNaN(expiresAt)) {
      throw new ConfigError(`${plugin} returned an expirationTimestamp that is not an RFC 3339 time; fix the plugin`);
    }
  }
  return {
    credentials: { ...definedProps({ token: token || undefined }), ...(cert && key ? { cert, key } : {}) },
    expiresAt,
  };
}

/** The ExecCredential handed to the plugin in `KUBERNETES_EXEC_INFO`. */
function execInfo(apiVersion: string, interactive: boolean, cluster: ClusterInfo | undefined): string {
  const spec: Record<string, unknown> = { interactive };
  if (cluster) {
    // JSON leaves out the undefined ones: the plugin sees only the fields that are set.
    spec.cluster = {
      server: cluster.server,
      "tls-server-name": cluster.serverName || undefined,
      "insecure-skip-tls-verify": cluster.insecureSkipVerify || undefined,
      "certificate-authority-data": cluster.ca ? Buffer.from(cluster.ca).toString("base64") : undefined,
      "proxy-url": cluster.proxyUrl || undefined,
      "disable-compression": cluster.disableCompression || undefined,
      config: cluster.config,
    };
  }
  return JSON.stringify({ apiVersion, kind: "ExecCredential", spec });
}

/** Checks an exec section as clientcmd validates it, and fills in the v1beta1 default of `interactiveMode`. */
function validate(exec: ExecConfig, where: string): { command: string; apiVersion: string; mode: string } {
  if (!exec.command) throw new ConfigError(`${where}: exec has no command; set users[].user.exec.command`);
  const apiVersion = exec.apiVersion;
  if (!apiVersion) {
    throw new ConfigError(`${where}: exec has no apiVersion; set it to ${v1} (or ${v1beta1} for older plugins)`);
  }
  if (apiVersion !== v1 && apiVersion !== v1beta1) {
    throw new ConfigError(`${where}: exec apiVersion ${apiVersion} is not supported; use ${v1} or ${v1beta1}`);
  }
  for (const { name } of exec.env ?? []) {
    if (!name) throw new ConfigError(`${where}: an exec env entry has no name; give it one or remove it`);
  }
  // v1 made interactiveMode required; v1beta1 kubeconfigs default it to IfAvailable.
  const mode = exec.interactiveMode ?? (apiVersion === v1beta1 ? "IfAvailable" : undefined);
  if (!mode) {
    throw new ConfigError(
      `${where}: exec with ${v1} needs interactiveMode; add interactiveMode: Never (or IfAvailable)`,
    );
  }
  if (!interactiveModes.has(mode)) {
    throw new ConfigError(`${where}: exec interactiveMode "${mode}" is invalid; use Never, IfAvailable or Always`);
  }
  return { command: exec.command, apiVersion, mode };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Runs the plugin once; stderr is shown to the user when interactive, otherwise kept for the error message. */
function runPlugin(
  exec: ExecConfig & { command: string },
  where: string,
  info: string,
  interactive: boolean,
  signal: AbortSignal,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const { name, value } of exec.env ?? []) env[name] = value;
    env.KUBERNETES_EXEC_INFO = info;
    const child = spawn(exec.command, [...(exec.args ?? [])], {
      env,
      stdio: [interactive ? "inherit" : "ignore", "pipe", interactive ? "inherit" : "pipe"],
      signal,
    });
    const out: Buffer[] = [];
    let err = "";
    let settled = false;
    const settle = (f: () => void) => {
      if (!settled) {
        settled = true;
        f();
      }
    };
    child.stdout?.on("data", (c: Buffer) => out.push(c));
    child.stderr?.on("data", (c: Buffer) => {
      err = (err + c.toString()).slice(-4000);
    });
    const plugin = `exec plugin "${exec.command}" (${where})`;
    child.on("error", (e: NodeJS.ErrnoException) => {
      settle(() => {
        if (signal.aborted) return reject(signal.reason);
        if (e.code === "ENOENT") {
          const hint = exec.installHint ? oneLine(exec.installHint) : "install it or fix users[].user.exec.command";
          return reject(new ConfigError(`${plugin} is not installed or not on PATH: ${hint}`));
        }
        if (e.code === "EACCES") return reject(new ConfigError(`${plugin} is not executable: check its permissions`));
        reject(new ConfigError(`${plugin} failed to start (${e.code ?? e.message}): check the command`));
      });
    });
    child.on("close", (code, killed) => {
      settle(() => {
        if (code === 0) return resolve(Buffer.concat(out).toString("utf8"));
        const last = oneLine(err.trim().split("\n").pop() ?? "");
        const how = code === null ? `was killed by ${killed}` : `exited with code ${code}`;
        reject(new ConfigError(`${plugin} ${how}${last ? `: ${last}` : "; run it by hand to see why"}`));
      });
    });
  });
}

/** One run of the plugin, shared by the callers waiting on it; it is killed when every one of them gives up. */
interface Run {
  readonly promise: Promise<AuthCredentials>;
  readonly controller: AbortController;
  waiters: number;
}

/**
 * An {@link AuthProvider} backed by an exec credential plugin. Validates `exec` now (as kubectl does when it loads the
 * kubeconfig); `where` names the user for messages; `cluster` is passed to plugins that set `provideClusterInfo`.
 */
export function execAuth(
  exec: ExecConfig,
  where: string,
  cluster: ClusterInfo,
  options: ExecAuthOptions = {},
): AuthProvider {
  const { command, apiVersion, mode } = validate(exec, where);
  const now = options.now ?? Date.now;
  const isTerminal = options.isTerminal ?? (() => process.stdin.isTTY === true);
  let cached: ExecResult | undefined;
  let inflight: Run | undefined;

  const start = (): Run => {
    const terminal = isTerminal();
    if (mode === "Always" && !terminal) {
      throw new ConfigError(
        `exec plugin "${command}" (${where}) needs a terminal (interactiveMode: Always) but stdin is not one; run from a terminal or set interactiveMode: IfAvailable`,
      );
    }
    const interactive = mode !== "Never" && terminal;
    const info = execInfo(apiVersion, interactive, exec.provideClusterInfo ? cluster : undefined);
    const controller = new AbortController();
    // Done before any waiter resumes, so that a caller who invalidates right away starts a new run.
    const finish = () => {
      if (inflight === run) inflight = undefined;
    };
    const run: Run = {
      controller,
      waiters: 0,
      promise: runPlugin({ ...exec, command }, where, info, interactive, controller.signal).then(
        (text) => {
          try {
            const result = parseExecCredential(text, command, apiVersion);
            if (inflight === run) cached = result;
            return result.credentials;
          } finally {
            finish();
          }
        },
        (err: unknown) => {
          finish();
          throw err;
        },
      ),
    };
    // A run that every waiter has left settles into nothing.
    run.promise.catch(() => {});
    return run;
  };

  const wait = (run: Run, signal: AbortSignal | undefined): Promise<AuthCredentials> => {
    if (!signal) {
      run.waiters++;
      return run.promise;
    }
    if (signal.aborted) return Promise.reject(signal.reason);
    run.waiters++;
    return untilAborted(run.promise, signal, () => {
      run.waiters--;
      if (run.waiters === 0) {
        // Nobody wants this run any more: stop the plugin, and let the next caller start afresh.
        if (inflight === run) inflight = undefined;
        run.controller.abort(signal.reason);
      }
    });
  };

  return {
    description: `exec plugin ${command}`,
    invalidate(failed?: AuthCredentials) {
      if (cached && (!failed || sameCredentials(cached.credentials, failed))) cached = undefined;
    },
    credentials(signal?: AbortSignal): Promise<AuthCredentials> {
      // client-go uses credentials right up to their expiry; a request that races it gets a 401 and a refresh.
      if (cached && (cached.expiresAt === undefined || now() < cached.expiresAt)) {
        return Promise.resolve(cached.credentials);
      }
      try {
        inflight ??= start();
      } catch (err) {
        return Promise.reject(err);
      }
      return wait(inflight, signal);
    },
  };
}
