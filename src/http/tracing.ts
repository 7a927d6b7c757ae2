/**
 * OpenTelemetry spans of API calls, through `@opentelemetry/api` only: nothing is recorded (and no span object is
 * made) unless the application registers an SDK or passes a tracer provider. One CLIENT span per call, named by
 * method and resource (`GET configmaps`, `PATCH deployments.apps/status`), with the HTTP client semantic conventions'
 * attributes; retries are events on it, as the call is one operation to its caller whatever it took.
 */
import {
  type Attributes,
  type Context,
  context,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import type { ApiError } from "./errors.js";
import { kindwatchVersion } from "./useragent.js";

const tracerName = "kindwatch";

/** kindwatch's tracer, of a given provider or of the global one as it is now. */
export class Tracing {
  readonly #provider: TracerProvider | undefined;
  #tracer: Tracer | undefined;

  /** With no `provider`, the global one is asked on every use, so that an SDK registered later is heard. */
  constructor(provider?: TracerProvider) {
    this.#provider = provider;
  }

  /**
   * The tracer to use now, or undefined when nothing would be recorded (no SDK registered): the caller then skips all
   * span work, so tracing costs a property lookup when it is off.
   */
  tracer(): Tracer | undefined {
    if (this.#provider) {
      this.#tracer ??= this.#provider.getTracer(tracerName, kindwatchVersion);
      return this.#tracer;
    }
    const global = trace.getTracerProvider();
    // The API's proxy provider has no delegate until an SDK registers one; asking it for a tracer would make a proxy
    // tracer (and every span a non-recording object) for nothing.
    if (isProxy(global)) return global.getDelegateTracer(tracerName, kindwatchVersion);
    return global.getTracer(tracerName, kindwatchVersion);
  }
}

interface ProxyProvider extends TracerProvider {
  getDelegateTracer(name: string, version?: string): Tracer | undefined;
}

/** Duck-typed: the global provider may come from another copy of `@opentelemetry/api` than ours. */
function isProxy(provider: TracerProvider): provider is ProxyProvider {
  return typeof (provider as Partial<ProxyProvider>).getDelegateTracer === "function";
}

/** What an API path names: a resource (with its group, namespace, object and subresource) or another endpoint. */
interface PathInfo {
  /** `configmaps`, `deployments.apps`, `deployments.apps/status`; the path itself for other endpoints. */
  readonly target: string;
  /** The path with its variable parts as placeholders (`/api/v1/namespaces/{namespace}/configmaps/{name}`). */
  readonly template: string;
  readonly attributes: Attributes;
}

/** Subresources of a namespace, told apart from the resources in it as the API server does. */
const namespaceSubresources = new Set(["status", "finalize"]);

/**
 * Reads an API path as the API server's RequestInfoFactory does: `/api/v1/...` and `/apis/GROUP/VERSION/...`, then
 * `namespaces/NS/` and `RESOURCE[/NAME[/SUBRESOURCE]]`.
 */
export function describePath(path: string): PathInfo {
  const parts = path.split("/").filter((p) => p !== "");
  let group: string;
  let version: string | undefined;
  let rest: string[];
  let prefix: string;
  if (parts[0] === "api") {
    group = "";
    version = parts[1];
    rest = parts.slice(2);
    prefix = "/api/{version}";
  } else if (parts[0] === "apis") {
    group = parts[1] ?? "";
    version = parts[2];
    rest = parts.slice(3);
    prefix = "/apis/{group}/{version}";
  } else {
    // /version, /readyz, /openapi/v3/...: few, and worth telling apart; the OpenAPI documents per group are many.
    const template = parts[0] === "openapi" && parts.length > 2 ? `/openapi/${parts[1]}/{path}` : path;
    return { target: template, template, attributes: { "url.template": template } };
  }
  if (version === undefined || rest.length === 0) {
    // Discovery: of the groups, of a group, or of a group version.
    const template =
      parts[0] === "api"
        ? version === undefined
          ? "/api"
          : prefix
        : parts.length === 1
          ? "/apis"
          : parts.length === 2
            ? "/apis/{group}"
            : prefix;
    const attributes: Attributes = { "url.template": template };
    if (group) attributes["k8s.resource.group"] = group;
    if (version !== undefined) attributes["k8s.resource.version"] = version;
    return { target: template, template, attributes };
  }
  let namespace: string | undefined;
  let nsPart = "";
  if (rest[0] === "namespaces" && rest.length > 1) {
    namespace = rest[1];
    if (rest.length > 2 && !namespaceSubresources.has(rest[2] ?? "")) {
      rest = rest.slice(2);
      nsPart = "/namespaces/{namespace}";
    }
  }
  const [resource = "", name, subresource] = rest;
  const qualified = group ? `${resource}.${group}` : resource;
  const target = subresource ? `${qualified}/${subresource}` : qualified;
  const namePart = name === undefined ? "" : "/{name}";
  const template = `${prefix}${nsPart}/${resource}${namePart}${subresource ? `/${subresource}` : ""}`;
  const attributes: Attributes = {
    "url.template": template,
    "k8s.resource": resource,
    "k8s.resource.group": group,
    "k8s.resource.version": version,
  };
  if (subresource) attributes["k8s.subresource"] = subresource;
  if (namespace !== undefined) attributes["k8s.namespace.name"] = namespace;
  if (name !== undefined) attributes["k8s.object.name"] = name;
  return { target, template, attributes };
}

/** The Kubernetes verb of a call, as audit logs and RBAC name it. */
function verbOf(method: string, named: boolean, watch: boolean): string {
  if (watch) return "watch";
  switch (method) {
    case "GET":
      return named ? "get" : "list";
    case "POST":
      return "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return named ? "delete" : "deletecollection";
    default:
      return method.toLowerCase();
  }
}

/** The span of one API call, across its attempts. */
export class CallSpan {
  readonly #span: Span;
  /** The active context with this span in it: for the request's own instrumentation and propagation. */
  readonly context: Context;
  #resends = 0;
  #status: number | undefined;

  private constructor(span: Span) {
    this.#span = span;
    this.context = trace.setSpan(context.active(), span);
  }

  /** Starts the span of a call, a child of the active span; undefined when tracing is off. */
  static start(
    tracing: Tracing,
    call: { method: string; path: string; url: string; stream: boolean },
  ): CallSpan | undefined {
    const tracer = tracing.tracer();
    if (!tracer) return undefined;
    const info = describePath(call.path);
    const url = new URL(call.url);
    const watch = call.stream || url.searchParams.get("watch") === "true" || url.searchParams.get("watch") === "1";
    const span = tracer.startSpan(`${call.method} ${info.target}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        "http.request.method": call.method,
        "server.address": url.hostname,
        "server.port": Number(url.port || (url.protocol === "https:" ? 443 : 80)),
        "url.full": url.href,
        "k8s.verb": verbOf(call.method, info.attributes["k8s.object.name"] !== undefined, watch),
        ...info.attributes,
      },
    });
    return new CallSpan(span);
  }

  /** Adds the trace context to a request's headers (W3C `traceparent` with the SDK's default propagator). */
  inject(headers: Record<string, string | string[]>): void {
    propagation.inject(this.context, headers);
  }

  /** The status code of the latest response. */
  response(status: number): void {
    this.#status = status;
    this.#span.setAttribute("http.response.status_code", status);
  }

  /** A retry after `error`: an event, and the count of resends on the span. */
  retry(attempt: number, error: ApiError, delayMs: number): void {
    this.#resends++;
    this.#span.addEvent("retry", {
      "kindwatch.retry.attempt": attempt,
      "kindwatch.retry.delay_ms": Math.round(delayMs),
      "error.type": errorType(error),
      ...(error.status ? { "http.response.status_code": error.status } : {}),
    });
  }

  /** Ends the span; with an error, marked as failed (any 4xx or 5xx is a failure for a client span). */
  end(error?: unknown): void {
    const span = this.#span;
    if (this.#resends > 0) span.setAttribute("http.request.resend_count", this.#resends);
    if (error !== undefined) {
      const apiError = error as Partial<ApiError>;
      if (typeof apiError.status === "number" && apiError.status > 0 && this.#status !== apiError.status) {
        span.setAttribute("http.response.status_code", apiError.status);
      }
      span.setAttribute("error.type", errorType(apiError));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    span.end();
  }
}

/** `error.type`: the status code for a response that failed, else what kind of failure it was. */
function errorType(error: Partial<ApiError>): string {
  if (typeof error.status === "number" && error.status > 0) return String(error.status);
  return typeof error.kind === "string" ? error.kind : "_OTHER";
}
