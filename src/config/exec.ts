/**
 * Exec credential plugins (client.authentication.k8s.io): run a command that prints an ExecCredential, cache what it
 * gives until it expires, run it again after a 401. Concurrent callers share one run.
 */
import { spawn } from "node:child_process";
import type { ClusterInfo } from "./auth.js";
import { ConfigError } from "./errors.js";
import type { ExecConfig } from "./kubeconfig.js";
import type { AuthCredentials, AuthProvider } from "./types.js";

/** Credentials are refreshed this long before they expire, so that no request goes out with a dying token. */
const expiryMarginMs = 10_000;
const defaultApiVersion = "client.authentication.k8s.io/v1";

function run(exec: ExecConfig, file: string, input: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: input };
    for (const { name, value } of exec.env ?? []) env[name] = value;
    const child = spawn(exec.command, [...(exec.args ?? [])], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
      ...(signal ? { signal } : {}),
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => {
      err = (err + c.toString()).slice(-2000);
    });
    child.on("error", (e: NodeJS.ErrnoException) => {
      const hint = exec.installHint ? `: ${exec.installHint.trim()}` : "";
      reject(
        new ConfigError(
          e.code === "ENOENT"
            ? `exec plugin "${exec.command}" (from ${file}) is not installed or not on PATH${hint}`
            : `exec plugin "${exec.command}" failed to start: ${e.message}`,
        ),
      );
    });
    child.on("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString("utf8"));
      else {
        const last = err.trim().split("\n").pop() ?? "";
        reject(new ConfigError(`exec plugin "${exec.command}" exited with ${code}${last ? `: ${last}` : ""}`));
      }
    });
  });
}

/** Parses an ExecCredential's status into credentials and an expiry (ms since the epoch, or undefined: never). */
export function parseExecCredential(
  text: string,
  command: string,
): { credentials: AuthCredentials; expiresAt: number | undefined } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ConfigError(`exec plugin "${command}" printed something that is not an ExecCredential (not JSON)`);
  }
  const status = (doc as { status?: Record<string, unknown> } | null)?.status;
  if (!status || typeof status !== "object") {
    throw new ConfigError(`exec plugin "${command}" printed an ExecCredential without a status`);
  }
  const str = (v: unknown) => (typeof v === "string" && v ? v : undefined);
  const token = str(status.token);
  const cert = str(status.clientCertificateData);
  const key = str(status.clientKeyData);
  if (!token && !(cert && key)) {
    throw new ConfigError(`exec plugin "${command}" returned neither a token nor a client certificate and key`);
  }
  const expiry = str(status.expirationTimestamp);
  const expiresAt = expiry ? Date.parse(expiry) : undefined;
  if (expiresAt !== undefined && Number.isNaN(expiresAt)) {
    throw new ConfigError(`exec plugin "${command}" returned an invalid expirationTimestamp: ${expiry}`);
  }
  return {
    credentials: { ...(token ? { token } : {}), ...(cert && key ? { cert, key } : {}) },
    expiresAt,
  };
}

/** An {@link AuthProvider} backed by an exec credential plugin. */
export function execAuth(
  exec: ExecConfig,
  file: string,
  cluster: ClusterInfo,
  now: () => number = Date.now,
): AuthProvider {
  if (typeof exec.command !== "string" || !exec.command) {
    throw new ConfigError(`an exec plugin in ${file} has no command`);
  }
  const apiVersion = exec.apiVersion ?? defaultApiVersion;
  const input = JSON.stringify({
    apiVersion,
    kind: "ExecCredential",
    spec: {
      interactive: false,
      ...(exec.provideClusterInfo
        ? {
            cluster: {
              server: cluster.server,
              ...(cluster.ca ? { "certificate-authority-data": Buffer.from(cluster.ca).toString("base64") } : {}),
            },
          }
        : {}),
    },
  });
  let cached: { credentials: AuthCredentials; expiresAt: number | undefined } | undefined;
  let inflight: Promise<AuthCredentials> | undefined;
  return {
    description: `exec plugin ${exec.command}`,
    invalidate: () => {
      cached = undefined;
    },
    credentials(signal?: AbortSignal): Promise<AuthCredentials> {
      if (cached && (cached.expiresAt === undefined || cached.expiresAt - expiryMarginMs > now())) {
        return Promise.resolve(cached.credentials);
      }
      inflight ??= run(exec, file, input, signal)
        .then((text) => {
          cached = parseExecCredential(text, exec.command);
          return cached.credentials;
        })
        .finally(() => {
          inflight = undefined;
        });
      return inflight;
    },
  };
}
