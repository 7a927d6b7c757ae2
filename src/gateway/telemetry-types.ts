/**
 * The data plane's telemetry contract: the pipeline calls these as requests pass, the observability layer
 * (`telemetry.ts`) turns them into metrics, spans and logs. Without one, {@link noTelemetry} drops everything.
 */

/** The LLM tokens of one answer: the one count behind the token metrics and the admin API's usage totals. */
export interface TokensEvent {
  readonly route: string;
  readonly profile?: string;
  /** The key's id and its key set (ids are unique within a set only); absent on an open route. */
  readonly keyId?: string;
  readonly keySet?: string;
  readonly model: string;
  readonly input: number;
  readonly output: number;
  readonly estimated: boolean;
}

/** What the data plane reports as requests pass; every method must be cheap and must not throw. */
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
  tokens(e: TokensEvent): void;
  /** Time to first token of a stream. */
  firstToken(e: { route: string; profile?: string; model: string; seconds: number }): void;
  /** The time per output token after the first, of a stream. */
  perOutputToken(e: { route: string; profile?: string; model: string; seconds: number }): void;
  /** A request refused by a limit. */
  limited(e: { route: string; keyId?: string; limit: "requests" | "tokens" }): void;
  /** An upstream stream cut mid-way. */
  streamCut(e: { route: string; upstream: string }): void;
}

/** Telemetry that records nothing: the default of the data plane. */
export const noTelemetry: GatewayTelemetry = {
  request() {},
  tokens() {},
  firstToken() {},
  perOutputToken() {},
  limited() {},
  streamCut() {},
};
