/** Errors as values with a kind: decoded from the server's `metav1.Status`, or made here for network failures. */
import { asMap } from "../object/narrow.js";
import { definedProps } from "../util/defined.js";

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
  | "RequestEntityTooLarge"
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
  /** A machine-readable reason such as `FieldValueInvalid` or `FieldValueRequired` (the Status's `type`). */
  readonly reason?: string;
  readonly message?: string;
  /** The field at fault, e.g. `metadata.name` or `spec.replicas`. */
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

/** The kinds that retrying the same request later may cure. */
const transientKinds: ReadonlySet<ErrorKind> = new Set([
  "TooManyRequests",
  "Timeout",
  "ServiceUnavailable",
  "InternalError",
  "Network",
]);

/** Every `metav1.StatusReason` the server sends, as client-go's `knownReasons`; the reason decides the kind. */
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
  RequestEntityTooLarge: "RequestEntityTooLarge",
  UnsupportedMediaType: "UnsupportedMediaType",
  TooManyRequests: "TooManyRequests",
  Timeout: "Timeout",
  ServerTimeout: "Timeout",
  ServiceUnavailable: "ServiceUnavailable",
  InternalError: "InternalError",
  StorageReadError: "InternalError",
};

/**
 * What an HTTP status means when the server sent no known reason (a proxy's page, or the API server's plain-text
 * answers such as APF's `429`): the kind, the reason client-go would give it, and a message in client-go's words.
 */
const statusMeanings: Readonly<Record<number, { kind: ErrorKind; reason: string; message: string }>> = {
  400: { kind: "BadRequest", reason: "BadRequest", message: "the server rejected our request for an unknown reason" },
  401: {
    kind: "Unauthorized",
    reason: "Unauthorized",
    message: "the server has asked for the client to provide credentials",
  },
  403: {
    kind: "Forbidden",
    reason: "Forbidden",
    message: "the server does not allow access to the requested resource",
  },
  404: { kind: "NotFound", reason: "NotFound", message: "the server could not find the requested resource" },
  405: {
    kind: "MethodNotAllowed",
    reason: "MethodNotAllowed",
    message: "the server does not allow this method on the requested resource",
  },
  406: {
    kind: "NotAcceptable",
    reason: "NotAcceptable",
    message: "the server was unable to respond with a content type that the client supports",
  },
  409: { kind: "Conflict", reason: "Conflict", message: "the server reported a conflict" },
  410: { kind: "Gone", reason: "Gone", message: "the requested resource version is no longer available" },
  413: {
    kind: "RequestEntityTooLarge",
    reason: "RequestEntityTooLarge",
    message: "the request is larger than the server accepts",
  },
  415: {
    kind: "UnsupportedMediaType",
    reason: "UnsupportedMediaType",
    message: "the server does not accept the request's content type",
  },
  422: {
    kind: "Invalid",
    reason: "Invalid",
    message: "the server rejected our request due to an error in our request",
  },
  429: {
    kind: "TooManyRequests",
    reason: "TooManyRequests",
    message: "the server has received too many requests and has asked us to try again later",
  },
  500: {
    kind: "InternalError",
    reason: "InternalError",
    message: "an error on the server has prevented the request from succeeding",
  },
  503: {
    kind: "ServiceUnavailable",
    reason: "ServiceUnavailable",
    message: "the server is currently unable to handle the request",
  },
  504: {
    kind: "Timeout",
    reason: "Timeout",
    message: "the server was unable to return a response in the time allotted, but may still be processing the request",
  },
};

/** What {@link ApiError}'s constructor takes. */
export interface ApiErrorInit {
  readonly kind: ErrorKind;
  /** The HTTP status, or 0 when no response came. */
  readonly status: number;
  readonly message: string;
  readonly reason?: string | undefined;
  readonly details?: StatusDetails | undefined;
  /** The request, as "METHOD path". */
  readonly request?: string | undefined;
  /** Overrides whether the kind is {@link ApiError.transient} (a TLS failure is a Network error that will not pass). */
  readonly transient?: boolean | undefined;
  readonly cause?: unknown | undefined;
}

/** A failed API call: the server's status decoded, or a network failure, timeout or abort (status 0). */
export class ApiError extends Error {
  override readonly name = "ApiError";
  /** What went wrong, as a value to branch on (or use the predicates: {@link isNotFound}, {@link isConflict}, ...). */
  readonly kind: ErrorKind;
  /** The HTTP status, or 0 when no response came. */
  readonly status: number;
  /**
   * `metav1.Status.reason` as the server sent it; for answers without a Status, the reason the HTTP status implies
   * (as client-go does); "" for failures without a response.
   */
  readonly reason: string;
  /** `metav1.Status.details` as the server sent it (the object's name and kind, field causes); empty when none. */
  readonly details: StatusDetails;
  /** The request, as "METHOD path", for messages. */
  readonly request: string;
  readonly #transient: boolean | undefined;

  constructor(init: ApiErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.kind = init.kind;
    this.status = init.status;
    this.reason = init.reason ?? "";
    this.details = init.details ?? {};
    this.request = init.request ?? "";
    this.#transient = init.transient;
  }

  /** Field-level causes of an `Invalid` error (empty for other kinds). */
  get causes(): readonly StatusCause[] {
    return this.details.causes ?? [];
  }

  /** How long the server asked us to wait before trying again, if it said. */
  get retryAfterSeconds(): number | undefined {
    return this.details.retryAfterSeconds;
  }

  /** Whether retrying the same request later may succeed without anything else changing. */
  get transient(): boolean {
    return this.#transient ?? transientKinds.has(this.kind);
  }
}

function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

function cause(raw: unknown): StatusCause[] {
  const c = asMap(raw);
  if (!c) return [];
  const reason = str(c.reason);
  const message = str(c.message);
  const field = str(c.field);
  return [definedProps({ reason, message, field })];
}

function details(raw: unknown, retryAfterHeader: number | undefined): StatusDetails {
  const d = asMap(raw) ?? {};
  const causes = Array.isArray(d.causes) ? d.causes.flatMap(cause) : undefined;
  // The server writes `Retry-After` from this field, so the two agree; the header covers Statuses without details.
  const fromBody = typeof d.retryAfterSeconds === "number" && d.retryAfterSeconds > 0 ? d.retryAfterSeconds : undefined;
  const retry = fromBody ?? retryAfterHeader;
  const out: { -readonly [K in keyof StatusDetails]: StatusDetails[K] } = {};
  for (const key of ["name", "group", "kind", "uid"] as const) {
    const value = str(d[key]);
    if (value !== undefined) out[key] = value;
  }
  if (causes) out.causes = causes;
  if (retry !== undefined) out.retryAfterSeconds = retry;
  return out;
}

/** A `metav1.Status`, or undefined. Watch `ERROR` events from some paths carry one without `kind`. */
function asStatus(body: unknown): Record<string, unknown> | undefined {
  const status = asMap(body);
  if (!status) return undefined;
  if (status.kind === "Status") return status;
  return status.kind === undefined && status.status === "Failure" ? status : undefined;
}

/** A short, single-line excerpt of a body that is not a Status, for messages. */
function excerpt(body: unknown): string {
  if (body === undefined || body === null) return "";
  const text = typeof body === "string" ? body : Buffer.isBuffer(body) ? body.toString("utf8") : JSON.stringify(body);
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

/**
 * Decodes an error response (or a watch `ERROR` event's object) into an {@link ApiError}. As in client-go, a known
 * `reason` decides the kind, else the HTTP status; a body that is no Status (plain text, a proxy's HTML) still yields
 * the kind and reason its status implies, with the body's first words in the message. `request` is "METHOD path"; the
 * message of a NotFound names it.
 */
export function errorFromStatus(httpStatus: number, body: unknown, request = "", retryAfterHeader?: number): ApiError {
  const status = asStatus(body);
  const code = status && typeof status.code === "number" && status.code > 0 ? status.code : httpStatus;
  const serverReason = (status && str(status.reason)) || "";
  const meaning = statusMeanings[code];
  // client-go: a 429 or 413 is that kind whatever the reason says; a POST's unexplained 409 is an AlreadyExists.
  const forced = code === 429 || code === 413 ? meaning?.kind : undefined;
  const alreadyExists = code === 409 && !reasonKinds[serverReason] && request.startsWith("POST ");
  const kind: ErrorKind =
    forced ??
    reasonKinds[serverReason] ??
    (alreadyExists ? "AlreadyExists" : undefined) ??
    meaning?.kind ??
    (code >= 500 ? "InternalError" : "Unknown");
  const reason =
    serverReason || (alreadyExists ? "AlreadyExists" : (meaning?.reason ?? (code >= 500 ? "InternalError" : "")));
  const generic = meaning?.message ?? `the server answered HTTP ${code} without saying why`;
  const where = request ? ` (${request})` : "";
  let message = status ? str(status.message) : undefined;
  if (!message) {
    const said = status ? "" : excerpt(body);
    message = `${generic}${where}${said ? `: ${said}` : ""}`;
  } else if (kind === "NotFound" && request && !message.includes(request)) {
    // The server's `widgets "x" not found` says neither the namespace nor the version it looked in; the path does.
    message = `${message}${where}`;
  }
  return new ApiError({
    kind,
    status: code,
    message,
    reason,
    details: details(status?.details, retryAfterHeader),
    request,
  });
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
/** The request was malformed. */
export const isBadRequest = (err: unknown): err is ApiError => isKind(err, "BadRequest");
/** The server is throttling (`429`); the transport retried per `Retry-After` before this was raised. */
export const isTooManyRequests = (err: unknown): err is ApiError => isKind(err, "TooManyRequests");
/** The request or the server timed out. */
export const isTimeout = (err: unknown): err is ApiError => isKind(err, "Timeout");
/** The server (or a proxy before it) cannot serve now (`503`). */
export const isServiceUnavailable = (err: unknown): err is ApiError => isKind(err, "ServiceUnavailable");
/** The server failed (`500`). */
export const isInternalError = (err: unknown): err is ApiError => isKind(err, "InternalError");
/** No response: connection refused or reset, DNS, TLS. */
export const isNetworkError = (err: unknown): err is ApiError => isKind(err, "Network");
/** The caller's `AbortSignal` fired, or the transport was closed. */
export const isAborted = (err: unknown): err is ApiError => isKind(err, "Aborted");
