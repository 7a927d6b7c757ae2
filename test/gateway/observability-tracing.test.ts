/**
 * OpenTelemetry spans of the gateway, in process with the SDK's in-memory exporter: a SERVER span per request that
 * continues the caller's `traceparent`, a CLIENT child per upstream attempt (two on a fallback), and each attempt's
 * context arriving at its upstream in `traceparent`. With no SDK nothing is recorded and the caller's `traceparent`
 * goes upstream as it came.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { propagation, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.js";
import { Tracing } from "../../src/http/tracing.js";
import { call } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { waitFor } from "../support/wait.js";

const chat = JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi" }] });
const callerTrace = "0af7651916cd43dd8448eb211c80319c";
const callerSpan = "b7ad6b7169203331";
const traceparent = `00-${callerTrace}-${callerSpan}-01`;

describe("gateway: tracing", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let traced: RunningGateway;
  let untraced: RunningGateway;
  let primary: OpenAIUpstream;
  let secondary: OpenAIUpstream;

  before(async () => {
    assert.ok(propagation.setGlobalPropagator(new W3CTraceContextPropagator()));
    [primary, secondary] = await Promise.all([OpenAIUpstream.start("primary"), OpenAIUpstream.start("secondary")]);
    const options = { listen: "127.0.0.1:0", adminListen: "127.0.0.1:0", adminToken: "t" };
    traced = await startGateway({ ...options, tracing: new Tracing(provider) });
    // No provider given and none registered globally: the no-op API.
    untraced = await startGateway(options);
    for (const gw of [traced, untraced]) {
      gw.plane.state.put("routes", {
        name: "fallback",
        source: { uid: "u", generation: 1 },
        match: { pathPrefix: "/fb" },
        upstreams: [
          { url: primary.url, kind: "openai", breaker: { failures: 100 } },
          { url: secondary.url, kind: "openai" },
        ],
      });
    }
  });

  after(async () => {
    await Promise.all([traced?.stop(), untraced?.stop(), primary?.stop(), secondary?.stop()]);
    propagation.disable();
    await provider.shutdown();
  });

  const spans = () => exporter.getFinishedSpans();
  const childrenOf = (parent: ReadableSpan) =>
    spans().filter(
      (s) =>
        s.parentSpanContext?.spanId === parent.spanContext().spanId &&
        s.spanContext().traceId === parent.spanContext().traceId,
    );
  const serverSpan = async () => {
    await waitFor("the SERVER span", () => spans().some((s) => s.kind === SpanKind.SERVER));
    const found = spans().filter((s) => s.kind === SpanKind.SERVER);
    assert.equal(found.length, 1, "one SERVER span per request");
    return found[0] as ReadableSpan;
  };
  const post = (gw: RunningGateway, path: string) =>
    call(`${gw.url}${path}`, {
      method: "POST",
      body: chat,
      headers: { "content-type": "application/json", traceparent },
    });

  it("continues the caller's trace, with a CLIENT span per upstream attempt", { timeout: 20_000 }, async () => {
    exporter.reset();
    primary.fail({ kind: "status", status: 503 }, 1);
    const answer = await post(traced, "/fb/v1/chat/completions");
    assert.equal(answer.status, 200, answer.text);

    const server = await serverSpan();
    assert.equal(server.name, "POST fallback");
    assert.equal(server.spanContext().traceId, callerTrace);
    assert.equal(server.parentSpanContext?.spanId, callerSpan);
    assert.equal(server.attributes["http.request.method"], "POST");
    assert.equal(server.attributes["http.route"], "fallback");
    assert.equal(server.attributes["http.response.status_code"], 200);
    assert.equal(server.status.code, SpanStatusCode.UNSET);

    const attempts = childrenOf(server).sort(
      (a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1],
    );
    assert.deepEqual(
      attempts.map((s) => [s.kind, s.attributes["server.port"], s.attributes["http.response.status_code"]]),
      [
        [SpanKind.CLIENT, Number(new URL(primary.url).port), 503],
        [SpanKind.CLIENT, Number(new URL(secondary.url).port), 200],
      ],
    );
    assert.equal(attempts[0]?.status.code, SpanStatusCode.ERROR);
    assert.equal(attempts[1]?.status.code, SpanStatusCode.UNSET);

    // Each upstream got the context of its own attempt's span, not the caller's.
    const arrived = [primary, secondary].map((u) => u.to("/fb/v1/chat/completions").at(-1)?.headers.traceparent);
    assert.deepEqual(
      arrived,
      attempts.map((s) => `00-${callerTrace}-${s.spanContext().spanId}-01`),
    );
  });

  it("ends the SERVER span of a request no route takes, with its status", { timeout: 20_000 }, async () => {
    exporter.reset();
    assert.equal((await post(traced, "/nowhere")).status, 404);
    const server = await serverSpan();
    assert.equal(server.name, "POST");
    assert.equal(server.attributes["http.response.status_code"], 404);
    assert.equal(server.attributes["http.route"], undefined);
    assert.equal(childrenOf(server).length, 0);
  });

  it("marks the SERVER span an error when no upstream answers", { timeout: 20_000 }, async () => {
    exporter.reset();
    primary.fail({ kind: "status", status: 500 }, 1);
    secondary.fail({ kind: "status", status: 502 }, 1);
    assert.equal((await post(traced, "/fb/v1/chat/completions")).status, 502);
    const server = await serverSpan();
    assert.equal(server.status.code, SpanStatusCode.ERROR);
    assert.equal(childrenOf(server).length, 2);
  });

  it("with no SDK records nothing and passes the caller's traceparent on", { timeout: 20_000 }, async () => {
    exporter.reset();
    const answer = await post(untraced, "/fb/v1/chat/completions");
    assert.equal(answer.status, 200, answer.text);
    assert.equal(primary.to("/fb/v1/chat/completions").at(-1)?.headers.traceparent, traceparent);
    assert.equal(spans().length, 0);
  });
});
