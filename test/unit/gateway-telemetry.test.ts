/**
 * The gateway's Prometheus telemetry on its own: each event lands in its metric under the GenAI semantic conventions'
 * names, labels and buckets, estimated usage is marked, and the breaker gauge reads its source at every scrape.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Registry } from "prom-client";
import type { BreakerReading } from "../../src/gateway/telemetry.js";
import { breakerStateGauge, prometheusTelemetry, tokenUsageBuckets } from "../../src/gateway/telemetry.js";
import { parsePrometheusText, type Scrape } from "../support/prometheus.js";

const scrape = async (registry: Registry): Promise<Scrape> => parsePrometheusText(await registry.metrics());

describe("gateway telemetry (Prometheus)", () => {
  it("records tokens by type in gen_ai_client_token_usage, with OTel's buckets", async () => {
    const registry = new Registry();
    const t = prometheusTelemetry(registry);
    t.tokens({ route: "chat", profile: "p", keyId: "alice", model: "gpt-x", input: 10, output: 300, estimated: false });
    t.tokens({ route: "chat", profile: "p", keyId: "alice", model: "gpt-x", input: 5, output: 1, estimated: true });
    const s = await scrape(registry);
    const labels = { route: "chat", profile: "p", key_id: "alice", gen_ai_request_model: "gpt-x" };
    assert.equal(s.types.get("gen_ai_client_token_usage"), "histogram");
    assert.equal(s.value("gen_ai_client_token_usage_sum", { ...labels, gen_ai_token_type: "input" }), 15);
    assert.equal(s.value("gen_ai_client_token_usage_sum", { ...labels, gen_ai_token_type: "output" }), 301);
    assert.equal(s.value("gen_ai_client_token_usage_count", { ...labels, gen_ai_token_type: "output" }), 2);
    const bounds = s
      .find("gen_ai_client_token_usage_bucket", { ...labels, gen_ai_token_type: "output" })
      .map((b) => (b.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(b.labels.le)));
    assert.deepEqual(bounds, [...tokenUsageBuckets, Number.POSITIVE_INFINITY]);
    assert.equal(tokenUsageBuckets.at(-1), 67108864);
    // 300 output tokens: above the 256 bucket, within 1024.
    const output = { ...labels, gen_ai_token_type: "output" };
    assert.equal(s.value("gen_ai_client_token_usage_bucket", { ...output, le: "256" }), 1);
    assert.equal(s.value("gen_ai_client_token_usage_bucket", { ...output, le: "1024" }), 2);
    assert.equal(s.value("kindwatch_gateway_tokens_estimated_total", { ...labels, gen_ai_token_type: "input" }), 5);
    assert.equal(s.value("kindwatch_gateway_tokens_estimated_total", { ...labels, gen_ai_token_type: "output" }), 1);
  });

  it("records time to first token and per output token in seconds", async () => {
    const registry = new Registry();
    const t = prometheusTelemetry(registry);
    t.firstToken({ route: "chat", profile: "p", model: "m", seconds: 0.07 });
    t.perOutputToken({ route: "chat", profile: "p", model: "m", seconds: 0.02 });
    t.perOutputToken({ route: "chat", model: "m", seconds: 0.3 });
    const s = await scrape(registry);
    const labels = { route: "chat", profile: "p", gen_ai_request_model: "m" };
    assert.equal(s.value("gen_ai_server_time_to_first_token_sum", labels), 0.07);
    assert.equal(s.value("gen_ai_server_time_to_first_token_bucket", { ...labels, le: "0.06" }), 0);
    assert.equal(s.value("gen_ai_server_time_to_first_token_bucket", { ...labels, le: "0.08" }), 1);
    assert.equal(s.value("gen_ai_server_time_per_output_token_count", labels), 1);
    assert.equal(s.value("gen_ai_server_time_per_output_token_sum", { ...labels, profile: "" }), 0.3);
  });

  it("counts requests by code, with their duration, and GenAI operations by profile and model", async () => {
    const registry = new Registry();
    const t = prometheusTelemetry(registry, { modelOf: (p) => (p === "p" ? "gpt-x" : undefined) });
    t.request({ route: "chat", profile: "p", keyId: "alice", method: "POST", status: 200, seconds: 0.5, stream: true });
    t.request({ route: "chat", method: "POST", status: 429, seconds: 0.001, stream: false });
    t.request({ route: undefined, method: "GET", status: 404, seconds: 0.001, stream: false });
    const s = await scrape(registry);
    assert.equal(s.value("kindwatch_gateway_requests_total", { route: "chat", method: "POST", code: "200" }), 1);
    assert.equal(s.value("kindwatch_gateway_requests_total", { route: "chat", method: "POST", code: "429" }), 1);
    assert.equal(s.value("kindwatch_gateway_requests_total", { route: "", method: "GET", code: "404" }), 1);
    assert.equal(
      s.value("kindwatch_gateway_request_duration_seconds_sum", { route: "chat", method: "POST", code: "200" }),
      0.5,
    );
    const op = { route: "chat", profile: "p", gen_ai_request_model: "gpt-x" };
    assert.equal(s.value("gen_ai_client_operation_duration_sum", op), 0.5);
    assert.equal(s.value("gen_ai_client_operation_duration_bucket", { ...op, le: "0.32" }), 0);
    assert.equal(s.value("gen_ai_client_operation_duration_bucket", { ...op, le: "0.64" }), 1);
    assert.equal(s.sum("gen_ai_client_operation_duration_count"), 1, "a request without a profile is no operation");
  });

  it("counts limit refusals and stream cuts; key ids are labels, keys never", async () => {
    const registry = new Registry();
    const t = prometheusTelemetry(registry);
    t.limited({ route: "chat", keyId: "alice", limit: "requests" });
    t.limited({ route: "chat", keyId: "alice", limit: "requests" });
    t.limited({ route: "chat", limit: "tokens" });
    t.streamCut({ route: "chat", upstream: "http://u:1" });
    const s = await scrape(registry);
    assert.equal(s.value("kindwatch_gateway_limited_total", { route: "chat", key_id: "alice", limit: "requests" }), 2);
    assert.equal(s.value("kindwatch_gateway_limited_total", { route: "chat", key_id: "", limit: "tokens" }), 1);
    assert.equal(s.value("kindwatch_gateway_stream_cuts_total", { route: "chat", upstream: "http://u:1" }), 1);
  });

  it("reads breaker states at scrape time: 0 closed, 1 half-open, 2 open", async () => {
    const registry = new Registry();
    let readings: BreakerReading[] = [{ route: "r", upstream: "http://a", state: "closed" }];
    breakerStateGauge(registry, () => readings);
    const state = async (upstream: string) =>
      (await scrape(registry)).value("kindwatch_gateway_upstream_breaker_state", { route: "r", upstream });
    assert.equal(await state("http://a"), 0);
    readings = [{ route: "r", upstream: "http://a", state: "open" }];
    assert.equal(await state("http://a"), 2);
    readings = [{ route: "r", upstream: "http://a", state: "half-open" }];
    assert.equal(await state("http://a"), 1);
    readings = [{ route: "r", upstream: "http://b", state: "closed" }];
    assert.equal(
      (await scrape(registry)).find("kindwatch_gateway_upstream_breaker_state", { upstream: "http://a" }).length,
      0,
      "a breaker gone (its route deleted) leaves the metric",
    );
  });

  it("shares its metrics when registered twice into one registry", async () => {
    const registry = new Registry();
    prometheusTelemetry(registry).limited({ route: "r", limit: "tokens" });
    prometheusTelemetry(registry).limited({ route: "r", limit: "tokens" });
    const s = await scrape(registry);
    assert.equal(s.value("kindwatch_gateway_limited_total", { route: "r", key_id: "", limit: "tokens" }), 2);
  });
});
