/**
 * The gateway's metrics through prom-client: the OpenTelemetry GenAI semantic conventions' instruments under their
 * Prometheus names (`gen_ai.client.token.usage` is `gen_ai_client_token_usage`, with their recommended buckets), and
 * the gateway's own request, limit, stream-cut and breaker metrics. Labels carry key ids, never keys.
 */
import { Gauge } from "prom-client";
import { counter, histogram, type MetricsRegistry, registered } from "../metrics/prometheus.js";
import type { GatewayTelemetry } from "./telemetry-types.js";
import type { BreakerState } from "./upstream.js";

export { type GatewayTelemetry, noTelemetry } from "./telemetry-types.js";

/** `gen_ai.client.token.usage`'s recommended buckets: powers of 4 from 1 to 67,108,864 tokens. */
export const tokenUsageBuckets: readonly number[] = Array.from({ length: 14 }, (_, i) => 4 ** i);

/** `gen_ai.client.operation.duration`'s recommended buckets: 10 ms doubling to 81.92 s. */
export const operationDurationBuckets: readonly number[] = Array.from({ length: 14 }, (_, i) =>
  Number((0.01 * 2 ** i).toFixed(2)),
);

/** `gen_ai.server.time_to_first_token`'s recommended buckets: 1 ms to 10 s. */
export const timeToFirstTokenBuckets: readonly number[] = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/** `gen_ai.server.time_per_output_token`'s recommended buckets: 10 ms to 2.5 s. */
export const timePerOutputTokenBuckets: readonly number[] = [
  0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5,
];

/** The buckets of `kindwatch_gateway_request_duration_seconds`: 0.5 ms (a gateway's own answers) to 10 min. */
export const requestDurationBuckets: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
];

/** Options of {@link prometheusTelemetry}. */
export interface PrometheusTelemetryOptions {
  /** The model of a profile, for `gen_ai_client_operation_duration` (the request event names the profile only). */
  readonly modelOf?: (profile: string) => string | undefined;
}

/** A {@link GatewayTelemetry} recording into `registry`; registering twice into one registry shares the metrics. */
export function prometheusTelemetry(
  registry: MetricsRegistry,
  options: PrometheusTelemetryOptions = {},
): GatewayTelemetry {
  const tokenUsage = histogram(
    registry,
    {
      name: "gen_ai_client_token_usage",
      help: "Measures number of input and output tokens used (gen_ai.client.token.usage)",
      labelNames: ["gen_ai_token_type", "route", "profile", "key_id", "gen_ai_request_model"],
    },
    tokenUsageBuckets,
  );
  const estimated = counter(registry, {
    name: "kindwatch_gateway_tokens_estimated_total",
    help: "Tokens counted by the gateway's tokenizer because the upstream reported no usage",
    labelNames: ["gen_ai_token_type", "route", "profile", "key_id", "gen_ai_request_model"],
  });
  const firstToken = histogram(
    registry,
    {
      name: "gen_ai_server_time_to_first_token",
      help: "Time to generate first token for successful responses, in seconds (gen_ai.server.time_to_first_token)",
      labelNames: ["route", "profile", "gen_ai_request_model"],
    },
    timeToFirstTokenBuckets,
  );
  const perOutputToken = histogram(
    registry,
    {
      name: "gen_ai_server_time_per_output_token",
      help: "Time per output token generated after the first token, in seconds (gen_ai.server.time_per_output_token)",
      labelNames: ["route", "profile", "gen_ai_request_model"],
    },
    timePerOutputTokenBuckets,
  );
  const operation = histogram(
    registry,
    {
      name: "gen_ai_client_operation_duration",
      help: "GenAI operation duration, in seconds (gen_ai.client.operation.duration)",
      labelNames: ["route", "profile", "gen_ai_request_model"],
    },
    operationDurationBuckets,
  );
  const requests = counter(registry, {
    name: "kindwatch_gateway_requests_total",
    help: "Requests answered by the gateway's data plane, by route, method and status code",
    labelNames: ["route", "method", "code"],
  });
  const duration = histogram(
    registry,
    {
      name: "kindwatch_gateway_request_duration_seconds",
      help: "Time from a request's arrival to the end of its answer, in seconds",
      labelNames: ["route", "method", "code"],
    },
    requestDurationBuckets,
  );
  const limited = counter(registry, {
    name: "kindwatch_gateway_limited_total",
    help: "Requests refused by a request-rate or token limit",
    labelNames: ["route", "key_id", "limit"],
  });
  const cuts = counter(registry, {
    name: "kindwatch_gateway_stream_cuts_total",
    help: "Upstream streams cut before their end",
    labelNames: ["route", "upstream"],
  });
  return {
    request(e) {
      const labels = { route: e.route ?? "", method: e.method, code: String(e.status) };
      requests.inc(labels);
      duration.observe(labels, e.seconds);
      if (e.profile !== undefined && e.route !== undefined) {
        const model = options.modelOf?.(e.profile) ?? "";
        operation.observe({ route: e.route, profile: e.profile, gen_ai_request_model: model }, e.seconds);
      }
    },
    tokens(e) {
      const base = { route: e.route, profile: e.profile ?? "", key_id: e.keyId ?? "", gen_ai_request_model: e.model };
      tokenUsage.observe({ ...base, gen_ai_token_type: "input" }, e.input);
      tokenUsage.observe({ ...base, gen_ai_token_type: "output" }, e.output);
      if (e.estimated) {
        estimated.inc({ ...base, gen_ai_token_type: "input" }, e.input);
        estimated.inc({ ...base, gen_ai_token_type: "output" }, e.output);
      }
    },
    firstToken(e) {
      firstToken.observe({ route: e.route, profile: e.profile ?? "", gen_ai_request_model: e.model }, e.seconds);
    },
    perOutputToken(e) {
      perOutputToken.observe({ route: e.route, profile: e.profile ?? "", gen_ai_request_model: e.model }, e.seconds);
    },
    limited(e) {
      limited.inc({ route: e.route, key_id: e.keyId ?? "", limit: e.limit });
    },
    streamCut(e) {
      cuts.inc({ route: e.route, upstream: e.upstream });
    },
  };
}

/** One upstream's breaker, as the breaker gauge reads it. */
export interface BreakerReading {
  readonly route: string;
  readonly upstream: string;
  readonly state: BreakerState;
}

const breakerValues: Readonly<Record<BreakerState, number>> = { closed: 0, "half-open": 1, open: 2 };

/**
 * `kindwatch_gateway_upstream_breaker_state{route,upstream}` (0 closed, 1 half-open, 2 open), read from `read` at
 * every scrape so that it shows an open breaker turning half-open with no request to notice it.
 */
export function breakerStateGauge(registry: MetricsRegistry, read: () => Iterable<BreakerReading>): Gauge<string> {
  const spec = {
    name: "kindwatch_gateway_upstream_breaker_state",
    help: "State of each upstream's circuit breaker: 0 closed, 1 half-open, 2 open",
    labelNames: ["route", "upstream"] as const,
  };
  return registered(
    registry,
    spec,
    Gauge,
    () =>
      new Gauge({
        ...spec,
        registers: [registry],
        collect() {
          this.reset();
          for (const b of read()) this.set({ route: b.route, upstream: b.upstream }, breakerValues[b.state]);
        },
      }),
  );
}
