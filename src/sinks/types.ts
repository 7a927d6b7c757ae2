/**
 * What every sink shares: the change on its way ({@link Delivery}), the sink itself ({@link Sink}) and how a delivery
 * fails ({@link SinkError}). An exporter reads the watch-all stream, turns each change into a CloudEvent and hands it
 * to one sink; the checkpoint advances only past what the sink acknowledged (at least once).
 */
import type { CloudEventV1 } from "cloudevents";

/** A change on its way to a sink: the CloudEvent, and the key that orders it. */
export interface Delivery {
  /** A CloudEvents 1.0 event (`id` is stable per change: receivers de-duplicate on it). */
  readonly event: CloudEventV1<unknown>;
  /**
   * What orders deliveries: the object's uid (a kind's `group/resource` for kind events). Deliveries of one key reach
   * the sink in order, one batch at a time; a sink that partitions (Kafka) keys by it.
   */
  readonly key: string;
}

/** Where changes go: an HTTP receiver, NATS JetStream, Kafka, a file. */
export interface Sink {
  /** What it delivers to, for logs and metrics, without credentials: `http https://example.com/events`. */
  readonly name: string;
  /** The most deliveries one {@link Sink.send} takes (1 where the receiver takes events one at a time). */
  readonly maxBatch: number;
  /**
   * Delivers `batch` and resolves once the receiver acknowledged every event of it (an HTTP 2xx, a JetStream publish
   * ack, Kafka's acks=all, a file written and flushed). Rejects with a {@link SinkError} otherwise, and is then called
   * again with the same batch (the receiver de-duplicates on `id`). Aborting `signal` gives up the send.
   */
  send(batch: readonly Delivery[], signal: AbortSignal): Promise<void>;
  /** Lets go of connections and files; sends in flight are given up. */
  close(): Promise<void>;
}

/** Why a delivery failed, and whether sending it again may succeed. */
export class SinkError extends Error {
  override readonly name = "SinkError";
  /** False for what will fail again the same way (a 400, a message too large): the exporter stops, loudly. */
  readonly retryable: boolean;
  /** How long the receiver asked to be left alone (`Retry-After`), if it did. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: { retryable: boolean; retryAfterMs?: number | undefined; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}
