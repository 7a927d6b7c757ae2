/** What the transport needs to reach one cluster: where it is, how to trust it, and who we are to it. */

/** How to trust the server and, for client-certificate users, how to prove who we are. */
export interface TlsConfig {
  /** PEM bundle of CAs to trust; the system's CAs when absent. */
  readonly ca?: string | undefined;
  /** PEM client certificate and key (static ones; an {@link AuthProvider} may supply rotating ones instead). */
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  /** Skip verifying the server's certificate (kubeconfig's `insecure-skip-tls-verify`). */
  readonly insecureSkipVerify?: boolean | undefined;
  /** The name to verify the server's certificate against, when it differs from the URL's host. */
  readonly serverName?: string | undefined;
}

/** Credentials at one moment: a bearer token, a client certificate, or both. */
export interface AuthCredentials {
  readonly token?: string | undefined;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
}

/** A source of credentials that may expire and be refreshed (static token, token file, exec plugin, ...). */
export interface AuthProvider {
  /** The current credentials; cached by the provider for as long as they are valid. */
  credentials(signal?: AbortSignal): Promise<AuthCredentials>;
  /**
   * The server answered 401 to `failed`: forget them so that the next call fetches fresh ones. When the provider has
   * already moved on to other credentials (a concurrent request got there first) this does nothing, so that a burst
   * of 401s costs one refresh. Without `failed`, forgets whatever is cached.
   */
  invalidate(failed?: AuthCredentials): void;
  /** A description for messages, never containing a secret (e.g. "client certificate", "exec: aws"). */
  readonly description: string;
}

/** Whom to act as, when impersonating (kubeconfig's `as`, `as-groups`, `as-uid`, `as-user-extra`). */
export interface Impersonation {
  readonly user: string;
  readonly uid?: string | undefined;
  readonly groups?: readonly string[] | undefined;
  readonly extra?: Readonly<Record<string, readonly string[]>> | undefined;
}

/** Everything needed to talk to one cluster, resolved from a kubeconfig context or from in-cluster files. */
export interface ClusterConfig {
  /** The API server's base URL, without a trailing slash. */
  readonly server: string;
  readonly tls: TlsConfig;
  readonly auth: AuthProvider;
  /** The namespace to use when none is given: the context's, the pod's, or "default". */
  readonly namespace: string;
  readonly impersonate?: Impersonation | undefined;
  /** kubeconfig's `proxy-url`: the HTTP(S) or SOCKS5 proxy to reach the server through. */
  readonly proxyUrl?: string | undefined;
  /** Where this came from, for messages: "context NAME in FILE" or "in-cluster". */
  readonly source: string;
}

/** An {@link AuthProvider} with nothing to send (anonymous, or TLS client certificate only). */
export const noAuth: AuthProvider = {
  credentials: async () => ({}),
  invalidate: () => {},
  description: "no credentials",
};

/** Whether two sets of credentials are the same (same token, same certificate). */
export function sameCredentials(a: AuthCredentials, b: AuthCredentials): boolean {
  return a.token === b.token && a.cert === b.cert && a.key === b.key;
}

/** An {@link AuthProvider} that always returns the same credentials. */
export function staticAuth(credentials: AuthCredentials, description: string): AuthProvider {
  return { credentials: async () => credentials, invalidate: () => {}, description };
}
