/** Turning any failure into one line a person can act on: what went wrong, and what to check. */
import { ConfigError } from "../config/errors.js";
import type { ClusterConfig } from "../config/types.js";
import { ApiError } from "../http/errors.js";

/** A failure whose message is already what the user should read. */
export class CliError extends Error {
  override readonly name = "CliError";
}

const connectionHint = "is the cluster running? check --kubeconfig/--context";

/** What a socket error code means, in words. */
const socketCodes: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  EHOSTDOWN: "host down",
  ENETUNREACH: "network unreachable",
  ENETDOWN: "network down",
  EAI_AGAIN: "name lookup failed",
  ENOTFOUND: "host not found",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  UND_ERR_SOCKET: "connection broken",
};

/** The first error code along `err`'s cause chain. */
function codeOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Why a request reached no server, in a few words ("connection refused"); undefined when `error` is not about the
 * connection (the server answered).
 */
export function connectionFailure(error: ApiError): string | undefined {
  if (error.kind === "Network") {
    const code = codeOf(error.cause);
    return code ? (socketCodes[code] ?? code) : "no response";
  }
  return error.kind === "Timeout" && error.status === 0 ? "no answer in time" : undefined;
}

/**
 * A message without its "METHOD /path: " prefix or " (METHOD /path)" suffix, which say nothing to someone who typed a
 * command (as kubectl's messages, ours name the kind, the name and the namespace instead).
 */
function withoutRequest(error: ApiError): string {
  if (!error.request) return error.message;
  const prefix = `${error.request}: `;
  const suffix = ` (${error.request})`;
  let message = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
  if (message.endsWith(suffix)) message = message.slice(0, -suffix.length);
  return message;
}

function apiFailure(error: ApiError, config: ClusterConfig | undefined): string {
  const server = config?.server ?? "the API server";
  switch (error.kind) {
    case "Network": {
      if (/TLS verification/.test(error.message)) return withoutRequest(error);
      const code = codeOf(error.cause);
      const why = code ? ` (${socketCodes[code] ?? code})` : "";
      return `cannot reach ${server}${why}: ${connectionHint}`;
    }
    case "Timeout":
      return error.status === 0
        ? `${server} did not answer in time: ${connectionHint}`
        : `the server timed out: ${withoutRequest(error)}`;
    case "Unauthorized": {
      const who = config ? `the ${config.auth.description} of ${config.source}` : "the credentials";
      return `unauthorized: ${server} rejected ${who} (401); the credentials are expired or invalid: renew them, or check --kubeconfig/--context`;
    }
    case "Aborted":
      return "interrupted";
    default:
      return withoutRequest(error);
  }
}

/** The one-line message for `err`; `config` (when the cluster was found) names the server and the credentials. */
export function failureMessage(err: unknown, config?: ClusterConfig): string {
  if (err instanceof CliError || err instanceof ConfigError) return err.message;
  if (err instanceof ApiError) return apiFailure(err, config);
  if (err instanceof Error) return err.message;
  return String(err);
}
