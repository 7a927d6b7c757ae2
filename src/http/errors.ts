/** Errors as values with a kind: decoded from the server's `metav1.Status`, or made here for network failures. */

/** What went wrong, as a caller decides on it: retry, report, or wait for a change. */
export type ErrorKind =
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Gone"
  | "Forbidden"
  | "Unauthorized"
  | "Invalid"
  | "BadRequest"
  | "MethodNotAllowed"
  | "NotAcceptable"
  | "UnsupportedMediaType"
  | "TooManyRequests"
  | "Timeout"
  | "ServiceUnavailable"
  | "InternalError"
  | "Network"
  | "Aborted"
  | "Unknown";

/** One reason a request was invalid, usually tied to a field (`metav1.StatusCause`). */
export interface StatusCause {
  readonly reason?: string;
  readonly message?: string;
  readonly field?: string;
}

/** The parts of a `metav1.Status` that callers act on. */
export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly uid?: string;
  readonly causes?: readonly StatusCause[];
  readonly retryAfterSeconds?: number;
}

const reasonKinds: Readonly<Record<string, ErrorKind>> = {
  NotFound: "NotFound",
  AlreadyExists: "AlreadyExists",
  Conflict: "Conflict",
  Gone: "Gone",
  Expired: "Gone",
  Forbidden: "Forbidden",
  Unauthorized: "Unauthorized",
  Invalid: "Invalid",
  BadRequest: "BadRequest",
  MethodNotAllowed: "MethodNotAllowed",
  NotAcceptable: "NotAcceptable",
  UnsupportedMediaType: "UnsupportedMediaType",
  TooManyRequests: "TooManyRequests",
  Timeout: "Timeout",
  ServerTimeout: "Timeout",
  ServiceUnavailable: "ServiceUnavailable",
  InternalError: "InternalError",
};

const statusKinds: Readonly<Record<number, ErrorKind>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  406: "NotAcceptable",
  409: "Conflict",
  410: "Gone",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** A failed API call: the server's status decoded, or a network failure, timeout or abort (status 0). */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly kind: ErrorKind;
  /** The HTTP status, or 0 when no response came. */
  readonly status: number;
  /** `metav1.Status.reason` as the server sent it ("" when it sent none). */
  readonly reason: string;
  readonly details: StatusDetails;
  /** The request, as "METHOD path", for messages. */
  readonly request: string;

  constructor(init: {
    kind: ErrorKind;
    status: number;
    message: string;
    reason?: string;
    details?: StatusDetails;
    request?: string;
    cause?: unknown;
  }) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.status = init.status;
    this.reason = init.reason ?? "";
    this.details = init.details ?? {};
    this.request = init.request ?? "";
  }

  /** Field-level causes of an `Invalid` error (empty for other kinds). */
  get causes(): readonly StatusCause[] {
    return this.details.causes ?? [];
  }

  /** Whether retrying the same request later may succeed without anything else changing. */
  get transient(): boolean {
    return ["TooManyRequests", "Timeout", "ServiceUnavailable", "InternalError", "Network"].includes(this.kind);
  }
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function details(raw: unknown): StatusDetails {
  const d = record(raw);
  if (!d) return {};
  const causes = Array.isArray(d.causes)
    ? d.causes
        .map(record)
        .flatMap((c) =>
          c ? [{ reason: str(c.reason), message: str(c.message), field: str(c.field) } as StatusCause] : [],
        )
    : undefined;
  const retry = typeof d.retryAfterSeconds === "number" ? d.retryAfterSeconds : undefined;
  return {
    ...(str(d.name) !== undefined ? { name: str(d.name) } : {}),
    ...(str(d.group) !== undefined ? { group: str(d.group) } : {}),
    ...(str(d.kind) !== undefined ? { kind: str(d.kind) } : {}),
    ...(str(d.uid) !== undefined ? { uid: str(d.uid) } : {}),
    ...(causes ? { causes } : {}),
    ...(retry !== undefined ? { retryAfterSeconds: retry } : {}),
  };
}

/**
 * Decodes an error response (or a watch `ERROR` event's object) into an {@link ApiError}. The `reason` decides the kind
 * where the server gave one, as client-go does; else the HTTP status.
 */
export function errorFromStatus(httpStatus: number, body: unknown, request = ""): ApiError {
  const status = record(body);
  const isStatus = status?.kind === "Status";
  const code = isStatus && typeof status.code === "number" ? status.code : httpStatus;
  const reason = (isStatus && str(status.reason)) || "";
  const kind = reasonKinds[reason] ?? statusKinds[code] ?? (code >= 500 ? "InternalError" : "Unknown");
  const serverMessage = isStatus ? str(status.message) : undefined;
  const text = typeof body === "string" ? body.trim().slice(0, 300) : undefined;
  const message = serverMessage || text || `${request} failed with HTTP ${code}`.trim();
  return new ApiError({ kind, status: code, message, reason, details: details(status?.details), request });
}

/** Whether `err` is an {@link ApiError} of `kind`. */
export function isKind(err: unknown, kind: ErrorKind): err is ApiError {
  return err instanceof ApiError && err.kind === kind;
}

/** The object (or its kind) does not exist. */
export const isNotFound = (err: unknown): err is ApiError => isKind(err, "NotFound");
/** The object already exists (create). */
export const isAlreadyExists = (err: unknown): err is ApiError => isKind(err, "AlreadyExists");
/** A resourceVersion precondition failed, or server-side apply found conflicting field owners. */
export const isConflict = (err: unknown): err is ApiError => isKind(err, "Conflict");
/** The resourceVersion is too old (`410 Gone` / `Expired`): relist. */
export const isGone = (err: unknown): err is ApiError => isKind(err, "Gone");
/** RBAC (or an admission webhook) denied the request. */
export const isForbidden = (err: unknown): err is ApiError => isKind(err, "Forbidden");
/** The credentials were missing, wrong or expired. */
export const isUnauthorized = (err: unknown): err is ApiError => isKind(err, "Unauthorized");
/** The object failed validation; see {@link ApiError.causes} for the fields. */
export const isInvalid = (err: unknown): err is ApiError => isKind(err, "Invalid");
/** The server is throttling (`429`); it was retried per `Retry-After` before this was raised. */
export const isTooManyRequests = (err: unknown): err is ApiError => isKind(err, "TooManyRequests");
/** The request or the server timed out. */
export const isTimeout = (err: unknown): err is ApiError => isKind(err, "Timeout");
/** No response: connection refused or reset, DNS, TLS. */
export const isNetworkError = (err: unknown): err is ApiError => isKind(err, "Network");
/** The caller's `AbortSignal` fired. */
export const isAborted = (err: unknown): err is ApiError => isKind(err, "Aborted");
