/**
 * OpenTelemetry spans of a controller: a short PRODUCER span for each watched change that enqueues keys, and a
 * CONSUMER span for each reconcile, linked to the changes that queued it and active while the reconciler runs, so
 * that the API calls it makes (the transport's CLIENT spans) are its children. Each is the root of a trace of its
 * own: a change comes from the server, not from whatever context started the controller, and one reconcile answers
 * many changes. Nothing is recorded, and nothing allocated per event, unless an SDK is registered.
 */
import {
  type Context,
  context,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import type { Origin } from "../cache/notify.js";
import type { Tracing } from "../http/tracing.js";
import type { KubeObject } from "../object/types.js";
import type { Request } from "./result.js";

/**
 * Most links a waiting key gathers: a key merges any number of changes, and a span with thousands of links helps no
 * one. The first ones are kept: the change that queued the key is the one its reconcile answers.
 */
const maxLinks = 4;

/** How a reconcile ended, in controller-runtime's words (its `controller_runtime_reconcile_total{result}`). */
export type ReconcileOutcome = "success" | "requeue" | "requeue_after" | "error" | "permanent_error";

/** The span of one reconcile. */
export class ReconcileSpan {
  readonly #span: Span;
  readonly #context: Context;

  constructor(span: Span) {
    this.#span = span;
    this.#context = trace.setSpan(context.active(), span);
  }

  /** The span's context, for a link from the next reconcile of the key. */
  get spanContext(): SpanContext {
    return this.#span.spanContext();
  }

  /** Runs `fn` with this span active: the API calls it makes are children of the reconcile. */
  run<R>(fn: () => R): R {
    return context.with(this.#context, fn);
  }

  /** Ends the span with the reconcile's outcome (and its error). */
  end(outcome: ReconcileOutcome, error?: unknown): void {
    const span = this.#span;
    span.setAttribute("kindwatch.reconcile.result", outcome);
    if (error !== undefined) {
      if (error instanceof Error) span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    }
    span.end();
  }
}

/** The spans of one run of a controller, and the links of the keys waiting in its queue. */
export class ControllerTracing {
  readonly #tracing: Tracing;
  readonly #controller: string;
  /** What queued each waiting key: taken by the reconcile that takes the key, as the queue merges adds. */
  readonly #pending = new Map<string, SpanContext[]>();

  constructor(tracing: Tracing, controller: string) {
    this.#tracing = tracing;
    this.#controller = controller;
  }

  /** Records a change of `obj` (of `kind`) that enqueues `keys`, and keeps its span for their next reconciles. */
  enqueued(
    kind: string,
    change: "add" | "update" | "delete",
    obj: KubeObject,
    origin: Origin,
    keys: ReadonlySet<string>,
  ): void {
    const tracer = this.#tracing.tracer();
    if (!tracer || keys.size === 0) return;
    const { namespace, name } = obj.metadata;
    const span = tracer.startSpan(`enqueue ${kind}`, {
      kind: SpanKind.PRODUCER,
      root: true,
      attributes: {
        "kindwatch.controller": this.#controller,
        "kindwatch.event.type": change,
        "kindwatch.event.origin": origin,
        "k8s.kind": kind,
        ...(namespace ? { "k8s.namespace.name": namespace } : {}),
        ...(name ? { "k8s.object.name": name } : {}),
        "kindwatch.reconcile.keys": [...keys],
      },
    });
    // A span the sampler dropped is not recording: a link to what nobody will see is noise.
    const recorded = span.isRecording();
    span.end();
    if (!recorded) return;
    for (const key of keys) this.link(key, span.spanContext());
  }

  /** Links the next reconcile of `key` to `cause` (a change, or the reconcile that asked for a retry). */
  link(key: string, cause: SpanContext): void {
    let links = this.#pending.get(key);
    if (!links) {
      links = [];
      this.#pending.set(key, links);
    }
    if (links.length < maxLinks) links.push(cause);
  }

  /** Starts the span of a reconcile of `key`, linked to what queued it; undefined when tracing is off. */
  reconcile(key: string, req: Request): ReconcileSpan | undefined {
    const links = this.#pending.get(key);
    this.#pending.delete(key);
    const tracer = this.#tracing.tracer();
    if (!tracer) return undefined;
    const span = tracer.startSpan(`reconcile ${this.#controller}`, {
      kind: SpanKind.CONSUMER,
      root: true,
      links: links?.map((cause) => ({ context: cause })) ?? [],
      attributes: {
        "kindwatch.controller": this.#controller,
        ...(req.namespace ? { "k8s.namespace.name": req.namespace } : {}),
        "k8s.object.name": req.name,
      },
    });
    return new ReconcileSpan(span);
  }
}
