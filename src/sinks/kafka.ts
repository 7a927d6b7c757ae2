/**
 * The Kafka sink: each change becomes one Kafka record, keyed by the object's uid so one object's events land in one
 * partition, in order. The producer is idempotent and waits for acks=all, so a send resolves only when every in-sync
 * replica has every record of the batch, and a retried send of the same batch is de-duplicated by the broker while the
 * producer lives. Records follow the CloudEvents Kafka protocol binding, built with the SDK's `Kafka` binding.
 */
import { CloudEvent, Kafka as CloudEventsKafka, type CloudEventV1 } from "cloudevents";
import type { IHeaders, KafkaConfig as KafkaJSConfig, Message, Producer, ProducerConfig } from "kafkajs";
import { type Delivery, type Sink, SinkError } from "./types.js";

/** How a CloudEvent rides a Kafka record: attributes as `ce_*` headers (binary) or the whole event as JSON (structured). */
export type KafkaContentMode = "binary" | "structured";

/** How {@link KafkaSink} reaches its cluster and what it writes. */
export interface KafkaSinkOptions {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  /** The topic every change goes to; default `kindwatch`. */
  readonly topic?: string | undefined;
  /** Default `binary`. */
  readonly mode?: KafkaContentMode | undefined;
  /** The most changes one produce carries; default 500. */
  readonly maxBatch?: number | undefined;
  /** Default `kindwatch`. */
  readonly clientId?: string | undefined;
  /** How long to wait for a broker to accept a connection; default 5000 ms. */
  readonly connectionTimeoutMs?: number | undefined;
  /** How long to wait for a broker's answer, acks=all included; default 30000 ms. */
  readonly requestTimeoutMs?: number | undefined;
  /** TLS towards the brokers: `true` for the system's CAs, or Node's TLS options. */
  readonly ssl?: KafkaJSConfig["ssl"];
  /** SASL credentials (PLAIN, SCRAM). */
  readonly sasl?: KafkaJSConfig["sasl"];
}

/** Protocol errors that fail the same way when sent again: the batch or the credentials must change first. */
const permanentProtocolErrors = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "INVALID_TOPIC_EXCEPTION",
  "INVALID_REQUIRED_ACKS",
  "TOPIC_AUTHORIZATION_FAILED",
  "CLUSTER_AUTHORIZATION_FAILED",
  "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
  "SASL_AUTHENTICATION_FAILED",
  "UNSUPPORTED_SASL_MECHANISM",
  "ILLEGAL_SASL_STATE",
  "UNSUPPORTED_VERSION",
  "UNSUPPORTED_FOR_MESSAGE_FORMAT",
  "POLICY_VIOLATION",
]);

/** Errors after which the broker no longer knows the producer's id or sequence: only a new producer gets past them. */
const producerStateErrors = new Set(["OUT_OF_ORDER_SEQUENCE_NUMBER", "UNKNOWN_PRODUCER_ID", "INVALID_PRODUCER_EPOCH"]);

/** kafkajs' failures, as far as the sink reads them. */
interface KafkaJSFailure {
  readonly name?: unknown;
  readonly type?: unknown;
  readonly message?: unknown;
  readonly cause?: unknown;
  readonly originalError?: unknown;
  readonly retriable?: unknown;
}

/** The chain of failures behind `err` (kafkajs wraps the broker's answer in retry and non-retriable errors). */
function failureChain(err: unknown): KafkaJSFailure[] {
  const chain: KafkaJSFailure[] = [];
  let current: unknown = err;
  while (typeof current === "object" && current !== null && chain.length < 10 && !chain.includes(current)) {
    const failure = current as KafkaJSFailure;
    chain.push(failure);
    current = failure.originalError ?? failure.cause;
  }
  return chain;
}

function protocolErrorType(err: unknown): string | undefined {
  for (const failure of failureChain(err)) if (typeof failure.type === "string") return failure.type;
  return undefined;
}

/** kafkajs' own errors that say "not now" although it marks them non-retriable: waits on its internal locks. */
const transientKafkaJSErrors = new Set(["KafkaJSTimeout", "KafkaJSLockTimeout"]);

/**
 * Maps a kafkajs failure to a {@link SinkError}: what a later try can get past is retryable (a broker down or hung, a
 * leader election, a lost producer id), the rest is not (a record too large or that cannot be encoded, an authorization
 * or configuration error).
 */
export function kafkaSinkError(err: unknown, what: string): SinkError {
  const chain = failureChain(err);
  const type = protocolErrorType(err);
  // kafkajs wraps the last failure of its own retries; the innermost one says what went wrong.
  const root = chain[chain.length - 1];
  const permanent =
    (type !== undefined && permanentProtocolErrors.has(type)) ||
    // A record kafkajs cannot encode fails the same way every time.
    root instanceof TypeError ||
    root instanceof RangeError ||
    (root?.retriable === false &&
      !(type !== undefined && producerStateErrors.has(type)) &&
      !transientKafkaJSErrors.has(String(root.name)));
  const detail = err instanceof Error ? err.message : String(err);
  return new SinkError(`${what}: ${type === undefined ? detail : `${type}: ${detail}`}`, {
    retryable: !permanent,
    cause: err,
  });
}

function headerValue(value: unknown): string {
  return typeof value === "string" ? value : typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** The record's value in binary mode: the event's data, JSON-encoded unless it is bytes or text already. */
function binaryValue(data: unknown): Buffer | string | null {
  if (data === undefined || data === null) return null;
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === "string") return data;
  return JSON.stringify(data);
}

/** One change as a Kafka record, per the CloudEvents Kafka protocol binding; the key is the delivery's, always. */
export function kafkaRecord(delivery: Delivery, mode: KafkaContentMode): Message {
  const event: CloudEventV1<unknown> =
    delivery.event instanceof CloudEvent ? delivery.event : new CloudEvent(delivery.event, false);
  const message = mode === "binary" ? CloudEventsKafka.binary(event) : CloudEventsKafka.structured(event);
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (value !== undefined && value !== null) headers[name] = headerValue(value);
  }
  const record: Message = {
    key: delivery.key,
    value: mode === "binary" ? binaryValue(event.data) : (message.value as string),
    headers,
  };
  if (message.timestamp !== undefined) record.timestamp = message.timestamp;
  return record;
}

function aborted(signal: AbortSignal, name: string): SinkError {
  return new SinkError(`${name}: send given up`, { retryable: true, cause: signal.reason });
}

/**
 * Delivers changes to a Kafka topic with an idempotent producer and acks=all (see {@link KafkaSinkOptions}).
 * kafkajs is loaded on the first send, so that commands without a Kafka sink never pay for it.
 */
export class KafkaSink implements Sink {
  readonly name: string;
  readonly maxBatch: number;
  readonly #options: KafkaSinkOptions;
  readonly #topic: string;
  readonly #mode: KafkaContentMode;
  #producer: Promise<Producer> | undefined;
  #closed = false;

  constructor(options: KafkaSinkOptions) {
    if (options.brokers.length === 0) throw new Error("a Kafka sink needs at least one broker");
    this.#options = options;
    this.#topic = options.topic ?? "kindwatch";
    this.#mode = options.mode ?? "binary";
    this.maxBatch = options.maxBatch ?? 500;
    this.name = `kafka ${options.brokers.join(",")}/${this.#topic}`;
  }

  async send(batch: readonly Delivery[], signal: AbortSignal): Promise<void> {
    if (this.#closed) throw new SinkError(`${this.name}: closed`, { retryable: false });
    if (signal.aborted) throw aborted(signal, this.name);
    if (batch.length === 0) return;
    let messages: Message[];
    try {
      messages = batch.map((d) => kafkaRecord(d, this.#mode));
    } catch (err) {
      throw new SinkError(`${this.name}: cannot encode the batch as Kafka records: ${String(err)}`, {
        retryable: false,
        cause: err,
      });
    }
    const connecting = this.#connect();
    let onAbort: (() => void) | undefined;
    const abort = new Promise<never>((_, reject) => {
      onAbort = () => reject(aborted(signal, this.name));
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      const producer = await Promise.race([connecting, abort]);
      await Promise.race([
        producer.send({
          topic: this.#topic,
          acks: -1,
          timeout: this.#options.requestTimeoutMs ?? 30_000,
          messages,
        }),
        abort,
      ]);
    } catch (err) {
      if (err instanceof SinkError) {
        // The abandoned produce may still be answered; a fresh producer keeps its sequence numbers out of the next try.
        this.#discard(connecting);
        throw err;
      }
      const type = protocolErrorType(err);
      if (type !== undefined && producerStateErrors.has(type)) this.#discard(connecting);
      throw kafkaSinkError(err, `${this.name}: produce of ${batch.length} records failed`);
    } finally {
      if (onAbort) signal.removeEventListener("abort", onAbort);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const producer = this.#producer;
    this.#producer = undefined;
    if (producer) await producer.then((p) => p.disconnect()).catch(() => {});
  }

  #connect(): Promise<Producer> {
    this.#producer ??= this.#newProducer().catch((err: unknown) => {
      this.#producer = undefined;
      throw kafkaSinkError(err, `${this.name}: cannot connect`);
    });
    return this.#producer;
  }

  #discard(producer: Promise<Producer>): void {
    if (this.#producer === producer) this.#producer = undefined;
    producer.then((p) => p.disconnect()).catch(() => {});
  }

  async #newProducer(): Promise<Producer> {
    const { Kafka, logLevel, Partitioners } = (await import("kafkajs")).default;
    const o = this.#options;
    // A few quick retries ride out a leader election; longer outages go back to the exporter, which backs off.
    const retry = { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 };
    const config: KafkaJSConfig = {
      clientId: o.clientId ?? "kindwatch",
      brokers: [...o.brokers],
      connectionTimeout: o.connectionTimeoutMs ?? 5000,
      requestTimeout: o.requestTimeoutMs ?? 30_000,
      // Failures surface as SinkErrors; the exporter logs them once, with the retry it schedules.
      logLevel: logLevel.NOTHING,
      retry,
    };
    if (o.ssl !== undefined) config.ssl = o.ssl;
    if (o.sasl !== undefined) config.sasl = o.sasl;
    const producerConfig: ProducerConfig = {
      idempotent: true,
      // One request in flight per broker keeps a partition's records in order across kafkajs' own retries.
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      retry,
    };
    const producer = new Kafka(config).producer(producerConfig);
    await producer.connect();
    return producer;
  }
}
