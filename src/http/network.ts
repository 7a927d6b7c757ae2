/** Turns what undici or Node (its TLS and HTTP/2) threw, when no response came, into an {@link ApiError} with a kind and a remedy. */
import { ApiError } from "./errors.js";

/** Failures of the connection that a later attempt may not meet: the server restarting, a reset, a flaky network. */
const transientCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_CLOSED",
  // HTTP/2: a stream reset, or the connection under it gone (GOAWAY, destroyed, a PING unanswered).
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_INVALID_SESSION",
  "ERR_HTTP2_STREAM_CANCEL",
  "ERR_HTTP2_ERROR",
  "ERR_STREAM_PREMATURE_CLOSE",
  "KINDWATCH_H2_PING_TIMEOUT",
]);

/** TLS verification failures (OpenSSL's names, as Node reports them): only a configuration change cures these. */
const tlsCodes = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO|SELF_SIGNED|HOSTNAME_MISMATCH)/;

function codeOf(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === "string" ? code : "";
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Classifies a failure without a response for `request` ("METHOD path") sent to `server`: a `Network` error,
 * transient unless it is a TLS or DNS failure that a retry cannot cure; anything unrecognised is `Unknown`.
 */
export function networkError(err: unknown, request: string, server: string): ApiError {
  if (err instanceof ApiError) return err;
  const code = codeOf(err);
  const text = messageOf(err);
  const detail = code && !text.includes(code) ? `${code}: ${text}` : text;
  if (tlsCodes.test(code)) {
    return new ApiError({
      kind: "Network",
      status: 0,
      message: `${request}: TLS verification of ${server} failed (${detail}); check the cluster's certificate-authority and tls-server-name in the kubeconfig`,
      request,
      transient: false,
      cause: err,
    });
  }
  if (code === "ENOTFOUND") {
    return new ApiError({
      kind: "Network",
      status: 0,
      message: `${request}: the host of ${server} does not resolve (${detail}); check the cluster's server URL`,
      request,
      transient: false,
      cause: err,
    });
  }
  if (transientCodes.has(code)) {
    return new ApiError({
      kind: "Network",
      status: 0,
      message: `${request}: no response from ${server} (${detail}); is the API server running and reachable?`,
      request,
      cause: err,
    });
  }
  return new ApiError({ kind: "Unknown", status: 0, message: `${request}: ${detail}`, request, cause: err });
}
