/** The gateway's telemetry contract: what the data plane and its stages report, and a default that records nothing. */

/** What the gateway reports as it serves; the Prometheus implementation is `prometheusTelemetry`. */
export interface GatewayTelemetry {
  /** One finished request: every answer, errors and 429s included. */
  request(e: {
    route: string | undefined;
    profile?: string;
    keyId?: string;
    method: string;
    status: number;
    seconds: number;
    upstream?: string;
    stream: boolean;
  }): void;
  /** LLM tokens of one answer (input and output), upstream-reported or estimated. */
  tokens(e: {
    route: string;
    profile?: string;
    keyId?: string;
    model: string;
    input: number;
    output: number;
    estimated: boolean;
  }): void;
  /** Time to first token of a stream, and the time per output token after it. */
  firstToken(e: { route: string; profile?: string; model: string; seconds: number }): void;
  perOutputToken(e: { route: string; profile?: string; model: string; seconds: number }): void;
  /** A request refused by a limit. */
  limited(e: { route: string; keyId?: string; limit: "requests" | "tokens" }): void;
  /** An upstream stream cut mid-way. */
  streamCut(e: { route: string; upstream: string }): void;
}

/** Telemetry that records nothing: every method a no-op. */
export const noTelemetry: GatewayTelemetry = {
  request() {},
  tokens() {},
  firstToken() {},
  perOutputToken() {},
  limited() {},
  streamCut() {},
};
