/**
 * Turns a kubeconfig user into an {@link AuthProvider}, choosing among its methods as client-go does: a token (or
 * token file) first; an exec plugin only when the user has neither a token nor a client certificate; the legacy
 * `oidc` auth-provider by its id-token.
 */
import { readFile } from "node:fs/promises";
import { ConfigError } from "./errors.js";
import { type ClusterInfo, execAuth } from "./exec.js";
import type { AuthProviderConfig, KubeconfigUser } from "./kubeconfig.js";
import { type AuthCredentials, type AuthProvider, noAuth, sameCredentials, staticAuth } from "./types.js";

/** How often a token file is re-read, as client-go does: rotated (projected service-account) tokens are picked up. */
export const tokenFileRefreshMs = 60_000;

/** Options of {@link tokenFileAuth}. */
export interface TokenFileOptions {
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** A token to use while the file cannot be read (kubeconfig's `token` next to `tokenFile`). */
  readonly fallback?: string | undefined;
}

/** An {@link AuthProvider} that reads a bearer token from a file, again after a minute or after a 401. */
export function tokenFileAuth(path: string, options: TokenFileOptions = {}): AuthProvider {
  const now = options.now ?? Date.now;
  let cached: { credentials: AuthCredentials; at: number } | undefined;
  return {
    description: `token file ${path}`,
    invalidate(failed?: AuthCredentials) {
      if (cached && (!failed || sameCredentials(cached.credentials, failed))) cached = undefined;
    },
    async credentials(): Promise<AuthCredentials> {
      if (cached && now() - cached.at < tokenFileRefreshMs) return cached.credentials;
      let token: string;
      try {
        token = (await readFile(path, "utf8")).trim();
        if (!token) throw new ConfigError(`token file ${path} is empty; write a token into it`);
      } catch (err) {
        // A token being rotated may be missing or empty for a moment: keep the last one rather than fail.
        if (cached) return cached.credentials;
        if (options.fallback) return { token: options.fallback };
        if (err instanceof ConfigError) throw err;
        const code = (err as NodeJS.ErrnoException).code ?? String(err);
        throw new ConfigError(`cannot read token file ${path} (${code}); check that it exists and is readable`);
      }
      cached = { credentials: cached?.credentials.token === token ? cached.credentials : { token }, at: now() };
      return cached.credentials;
    },
  };
}

function jwtExpiry(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      exp?: unknown;
    };
    return typeof payload.exp === "number" ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The legacy `oidc` auth-provider, by its `id-token` only: kindwatch does not run the OIDC refresh flow (nor write
 * refreshed tokens back to the kubeconfig), so an expired id-token is an error that says how to log in again.
 */
function oidcAuth(provider: AuthProviderConfig, where: string, now: () => number): AuthProvider {
  const token = provider.config?.["id-token"];
  const relogin = "log in again (e.g. 'kubectl oidc-login') or switch to the kubelogin exec plugin";
  if (!token) throw new ConfigError(`${where}: auth-provider oidc has no id-token; ${relogin}`);
  const expiresAt = jwtExpiry(token);
  const credentials = { token };
  return {
    description: "oidc id-token",
    invalidate: () => {},
    async credentials(): Promise<AuthCredentials> {
      if (expiresAt !== undefined && now() >= expiresAt) {
        throw new ConfigError(
          `${where}: the oidc id-token expired at ${new Date(expiresAt).toISOString()} and kindwatch does not refresh it; ${relogin}`,
        );
      }
      return credentials;
    },
  };
}

/** What {@link authFor} needs besides the user. */
export interface AuthContext {
  /** Names the user in messages, e.g. `user "admin" in /home/me/.kube/config`. */
  readonly where: string;
  /** The cluster, for exec plugins that set `provideClusterInfo`. */
  readonly cluster: ClusterInfo;
  /** Whether the user has a client certificate (which client-go lets win over an exec plugin). */
  readonly hasClientCert: boolean;
  /** Milliseconds since the epoch; default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** The {@link AuthProvider} for a kubeconfig user. */
export function authFor(user: KubeconfigUser, context: AuthContext): AuthProvider {
  const { where, hasClientCert } = context;
  const now = context.now ?? Date.now;
  const provider = user["auth-provider"];
  const basic = user.username !== undefined || user.password !== undefined;
  if (user.exec && provider) {
    throw new ConfigError(`${where} has both exec and auth-provider; keep only exec`);
  }
  if (basic && (user.token || user.tokenFile)) {
    throw new ConfigError(`${where} has both a token and username/password; keep only the token`);
  }
  if (user.tokenFile) {
    // client-go sends the file's token when it can read it, and the static token only while it cannot.
    return tokenFileAuth(user.tokenFile, { now, fallback: user.token || undefined });
  }
  if (user.token) return staticAuth({ token: user.token }, "bearer token");
  if (basic && !hasClientCert && !user.exec && !provider) {
    throw new ConfigError(
      `${where} uses basic auth (username/password), which Kubernetes removed in 1.19; use a token, certificate or exec plugin`,
    );
  }
  if (provider) {
    if (provider.name === "oidc") return oidcAuth(provider, where, now);
    const replacement: Record<string, string> = { gcp: "gke-gcloud-auth-plugin", azure: "kubelogin" };
    const use = replacement[provider.name ?? ""] ?? "its exec credential plugin";
    throw new ConfigError(
      `${where} uses auth-provider "${provider.name ?? ""}", which Kubernetes clients no longer support; use ${use} instead`,
    );
  }
  // client-go ignores the exec plugin of a user that has a client certificate: the certificate authenticates.
  if (user.exec && !hasClientCert) return execAuth(user.exec, where, context.cluster, { now });
  return hasClientCert ? staticAuth({}, "client certificate") : noAuth;
}
