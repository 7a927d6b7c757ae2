/** The data plane's errors, in OpenAI's format, so that OpenAI clients read them as they read OpenAI's own. */
import type { ServerResponse } from "node:http";

/** OpenAI's error body: `{"error":{"message","type","param","code"}}`. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** OpenAI's error `type` for each status the gateway answers with. */
function typeOf(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return status === 504 ? "timeout_error" : "server_error";
  return "invalid_request_error";
}

/** Bad input a caller can fix, thrown by the gateway's stages (llm, limits) and rendered by the data plane. */
export class GatewayInputError extends Error {
  override readonly name = "GatewayInputError";
  readonly status: number;
  readonly param: string | undefined;
  readonly code: string | undefined;
  /** Headers the answer carries (`Retry-After`, `x-ratelimit-*`). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, message: string, param?: string, code?: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.param = param;
    this.code = code;
    this.headers = headers;
  }
}

/** The OpenAI-format body of an error. */
export function errorBody(status: number, message: string, param?: string, code?: string): OpenAIErrorBody {
  return { error: { message, type: typeOf(status), param: param ?? null, code: code ?? null } };
}

/** Answers `res` with an OpenAI-format error, unless the answer has already begun (then the connection is cut). */
export function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  opts: { param?: string; code?: string; headers?: Readonly<Record<string, string>> } = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(errorBody(status, message, opts.param, opts.code));
  res.writeHead(status, {
    ...opts.headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** Renders a thrown {@link GatewayInputError}. */
export function sendInputError(res: ServerResponse, err: GatewayInputError): void {
  sendError(res, err.status, err.message, {
    ...(err.param === undefined ? {} : { param: err.param }),
    ...(err.code === undefined ? {} : { code: err.code }),
    headers: err.headers,
  });
}
