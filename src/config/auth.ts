/** Turns a kubeconfig user into an {@link AuthProvider}: static token, token file, exec plugin, or none. */
import { readFile } from "node:fs/promises";
import { ConfigError } from "./errors.js";
import { execAuth } from "./exec.js";
import type { KubeconfigUser } from "./kubeconfig.js";
import { resolvePath } from "./paths.js";
import { type AuthCredentials, type AuthProvider, noAuth, staticAuth } from "./types.js";

/** How often a token file is re-read: rotated tokens (projected service-account tokens) are picked up within this. */
export const tokenFileRefreshMs = 60_000;

/** An {@link AuthProvider} that reads a bearer token from a file, again after a minute or after a 401. */
export function tokenFileAuth(path: string, now: () => number = Date.now): AuthProvider {
  let cached: { token: string; at: number } | undefined;
  return {
    description: `token file ${path}`,
    invalidate: () => {
      cached = undefined;
    },
    async credentials(): Promise<AuthCredentials> {
      if (cached && now() - cached.at < tokenFileRefreshMs) return { token: cached.token };
      let token: string;
      try {
        token = (await readFile(path, "utf8")).trim();
      } catch (err) {
        // A token being rotated may vanish for a moment: keep using the last one rather than fail.
        if (cached) return { token: cached.token };
        throw new ConfigError(`cannot read token file ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      }
      cached = { token, at: now() };
      return { token };
    },
  };
}

/** What an exec plugin may be told about the cluster (`provideClusterInfo`). */
export interface ClusterInfo {
  readonly server: string;
  readonly ca?: string;
}

/** The {@link AuthProvider} for a kubeconfig user; `file` is where the user was defined (for relative paths). */
export function authFor(
  user: KubeconfigUser,
  file: string,
  cluster: ClusterInfo,
  hasClientCert: boolean,
): AuthProvider {
  if (user["auth-provider"]) {
    const name = user["auth-provider"].name ?? "unknown";
    throw new ConfigError(
      `auth-provider "${name}" in ${file} was removed from Kubernetes clients: use its exec credential plugin instead (e.g. kubelogin, gke-gcloud-auth-plugin)`,
    );
  }
  if (user.username !== undefined && !user.token && !hasClientCert && !user.exec) {
    throw new ConfigError(
      `basic auth (username/password) in ${file} is not supported by Kubernetes since 1.19: use a token or certificate`,
    );
  }
  if (user.token) return staticAuth({ token: user.token }, "bearer token");
  if (user.tokenFile) return tokenFileAuth(resolvePath(user.tokenFile, file));
  if (user.exec) return execAuth(user.exec, file, cluster);
  return hasClientCert ? staticAuth({}, "client certificate") : noAuth;
}
