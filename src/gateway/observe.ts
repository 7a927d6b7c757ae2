/**
 * What the data plane reports of each exchange when it ends: the `request` telemetry event, one access log line, and
 * OpenTelemetry spans (a SERVER span per request, continuing an incoming `traceparent`, and a CLIENT span per upstream
 * attempt whose context goes upstream in the request's headers). Spans are made only once an SDK is registered.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  type Attributes,
  type Context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { Logger } from "../cache/log.js";
import type { Tracing } from "../http/tracing.js";
import type { UpstreamSpec } from "./state.js";
import type { GatewayTelemetry } from "./telemetry-types.js";
import type { AttemptEnd } from "./upstream.js";

/** What the data plane learnt of an exchange by its end. */
export interface ExchangeFacts {
  readonly route?: string | undefined;
  readonly profile?: string | undefined;
  readonly model?: string | undefined;
  readonly keyId?: string | undefined;
  /** LLM tokens of the answer, when the llm stages counted them. */
  readonly tokens?: { readonly input: number; readonly output: number; readonly estimated: boolean } | undefined;
  /** Bytes of the request body. */
  readonly bytesIn: number;
}

/** The status logged for a client that went away before the answer's head: nginx's "client closed request". */
export const clientClosedStatus = 499;

/** The reporting of one exchange, from its arrival to {@link Observation.end}. */
export class Observation {
  readonly #req: IncomingMessage;
  readonly #started = performance.now();
  readonly #telemetry: GatewayTelemetry;
  readonly #log: Logger | undefined;
  readonly #tracer: Tracer | undefined;
  readonly #span: Span | undefined;
  readonly #context: Context | undefined;
  #upstream: string | undefined;
  #bytesOut: number | undefined;

  constructor(req: IncomingMessage, telemetry: GatewayTelemetry, log: Logger | undefined, tracing: Tracing) {
    this.#req = req;
    this.#telemetry = telemetry;
    this.#log = log;
    const tracer = tracing.tracer();
    this.#tracer = tracer;
    if (tracer) {
      const parent = propagation.extract(ROOT_CONTEXT, req.headers);
      this.#span = tracer.startSpan(
        req.method ?? "GET",
        { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method ?? "GET", "url.path": pathOf(req) } },
        parent,
      );
      this.#context = trace.setSpan(parent, this.#span);
    }
  }

  /**
   * Called by `forward` before each upstream attempt: a CLIENT span (child of the request's) whose context is injected
   * into that attempt's `headers`; the function it returns ends it.
   */
  readonly attempt = (upstream: UpstreamSpec, method: string, headers: Record<string, string | string[]>) => {
    this.#upstream = upstream.url;
    let span: Span | undefined;
    if (this.#tracer && this.#context) {
      const url = new URL(upstream.url);
      span = this.#tracer.startSpan(
        method,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            "http.request.method": method,
            "server.address": url.hostname,
            "server.port": Number(url.port || (url.protocol === "https:" ? 443 : 80)),
            "url.full": upstream.url,
          },
        },
        this.#context,
      );
      propagation.inject(trace.setSpan(this.#context, span), headers);
    }
    return (end: AttemptEnd) => {
      if (end.bytes !== undefined) this.#bytesOut = end.bytes;
      if (!span) return;
      if (end.status !== undefined) span.setAttribute("http.response.status_code", end.status);
      if (end.error !== undefined) {
        const error = end.error instanceof Error ? end.error : new Error(String(end.error));
        span.setAttribute("error.type", (error as { code?: string }).code ?? error.name);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      } else if (end.status !== undefined && end.status >= 500) {
        span.setAttribute("error.type", String(end.status));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    };
  };

  /** The exchange ended (answered, failed, or the client left): reports it once. */
  end(res: ServerResponse, facts: ExchangeFacts): void {
    const seconds = (performance.now() - this.#started) / 1000;
    const status = res.headersSent ? res.statusCode : clientClosedStatus;
    const method = this.#req.method ?? "GET";
    const stream = String(res.getHeader("content-type") ?? "").startsWith("text/event-stream");
    this.#telemetry.request({
      route: facts.route,
      ...(facts.profile === undefined ? {} : { profile: facts.profile }),
      ...(facts.keyId === undefined ? {} : { keyId: facts.keyId }),
      method,
      status,
      seconds,
      ...(this.#upstream === undefined ? {} : { upstream: this.#upstream }),
      stream,
    });
    if (this.#span) this.#endSpan(this.#span, method, status, facts);
    if (this.#log) {
      const bytesOut = this.#bytesOut ?? Number(res.getHeader("content-length") ?? 0);
      const fields: Record<string, unknown> = {
        route: facts.route ?? null,
        method,
        path: pathOf(this.#req),
        status,
        durationMs: Math.round(seconds * 1e6) / 1e3,
        upstream: this.#upstream ?? null,
        keyId: facts.keyId ?? null,
        profile: facts.profile ?? null,
        stream,
        bytesIn: facts.bytesIn,
        bytesOut,
      };
      if (facts.tokens) {
        fields.tokensIn = facts.tokens.input;
        fields.tokensOut = facts.tokens.output;
        fields.tokensEstimated = facts.tokens.estimated;
      }
      if (this.#span) fields.traceId = this.#span.spanContext().traceId;
      this.#log("info", "request", fields);
    }
  }

  #endSpan(span: Span, method: string, status: number, facts: ExchangeFacts): void {
    const attributes: Attributes = { "http.response.status_code": status };
    if (facts.route !== undefined) {
      attributes["http.route"] = facts.route;
      span.updateName(`${method} ${facts.route}`);
    }
    if (facts.model !== undefined) attributes["gen_ai.request.model"] = facts.model;
    if (facts.tokens) {
      attributes["gen_ai.usage.input_tokens"] = facts.tokens.input;
      attributes["gen_ai.usage.output_tokens"] = facts.tokens.output;
    }
    if (facts.keyId !== undefined) attributes["kindwatch.gateway.key_id"] = facts.keyId;
    span.setAttributes(attributes);
    // A SERVER span is an error for 5xx only: a 4xx is the caller's mistake, answered as it should be.
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
}

/** The path without its query: a query may carry what a caller should not have put there, and logs keep no secrets. */
function pathOf(req: IncomingMessage): string {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}
