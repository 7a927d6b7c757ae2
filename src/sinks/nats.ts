/**
 * The NATS JetStream sink: each CloudEvent is published to a subject derived from its kind, with JetStream's message
 * id set to the event's id, and a batch is acknowledged once every message of it got its publish ack. JetStream drops
 * a message whose id it stored within the stream's duplicate window, so a batch sent again stores nothing twice.
 *
 * Events go in structured content mode (the CloudEvents NATS binding's `application/cloudevents+json` body): the
 * message is the whole event, so it reads the same wherever the stream is mirrored, sourced, replayed or viewed, and
 * attributes stay exact (a header carries no JSON types and only a header-safe subset of Unicode).
 */
import { readFile } from "node:fs/promises";
import { JetStreamApiError, type JetStreamClient, type JetStreamManager, jetstream } from "@nats-io/jetstream";
import {
  AuthorizationError,
  connect,
  credsAuthenticator,
  headers,
  InvalidArgumentError,
  InvalidSubjectError,
  type NatsConnection,
  type NodeConnectionOptions,
  NoRespondersError,
  nanos,
  PermissionViolationError,
  TimeoutError,
  UserAuthenticationExpiredError,
} from "@nats-io/transport-node";
import { CloudEvent, type CloudEventV1 } from "cloudevents";
import { type Delivery, type Sink, SinkError } from "./types.js";

/** The subject template when none is given: one subject per kind, `kindwatch.apps.deployments`. */
export const defaultNatsSubject = "kindwatch.{group}.{resource}";

/** How to reach NATS and where events go. */
export interface NatsSinkOptions {
  /** Server URL(s): `nats://host:4222`, `tls://host:4222`; several for a cluster. */
  servers: string | readonly string[];
  /**
   * Where each event is published: `{group}`, `{version}`, `{kind}` and `{resource}` stand for the event's
   * `kwgroup`, `kwversion`, `kwkind` and `kwresource` (dots in group names become `_`, the core group is `core`).
   * Default {@link defaultNatsSubject}.
   */
  subject?: string;
  /**
   * The JetStream stream that must store the events: publishes are checked to land in it, and its absence (or a subject
   * it does not cover) stops the export unless {@link NatsSinkOptions.createStream} is set.
   */
  stream?: string;
  /** Creates {@link NatsSinkOptions.stream} when it is missing, and adds the template's subjects when it lacks them. */
  createStream?: boolean;
  /**
   * The duplicate window of a stream this sink creates (JetStream's default is 2 minutes): a batch sent again later
   * than that after a lost ack is stored twice (receivers still de-duplicate on the event id).
   */
  duplicateWindowMs?: number;
  /** User and password login. */
  user?: string;
  password?: string;
  /** Token login. */
  token?: string;
  /** A `.creds` file (JWT and NKey seed), read on each connect so a rotated file is picked up. */
  credsFile?: string;
  /** TLS: the CA that signs the server's certificate, and a client certificate for mutual TLS. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** How long a connect attempt may take (default 5000 ms). */
  connectTimeoutMs?: number;
  /** How long each publish may wait for its ack (default 5000 ms). */
  ackTimeoutMs?: number;
  /** The most events one send publishes before it waits for their acks (default 100). */
  maxBatch?: number;
}

interface Connection {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
}

/** A {@link Sink} that publishes to NATS JetStream; connects on the first send and again after a lost connection. */
export function natsSink(options: NatsSinkOptions): Sink {
  return new NatsSink(options);
}

class NatsSink implements Sink {
  readonly name: string;
  readonly maxBatch: number;
  readonly #options: NatsSinkOptions;
  readonly #template: Template;
  readonly #ackTimeoutMs: number;
  #connection: Promise<Connection> | undefined;
  #closed = false;

  constructor(options: NatsSinkOptions) {
    this.#options = options;
    this.#template = parseTemplate(options.subject ?? defaultNatsSubject);
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 5000;
    this.maxBatch = options.maxBatch ?? 100;
    const servers = (typeof options.servers === "string" ? [options.servers] : options.servers).map(withoutUserinfo);
    const stream = options.stream === undefined ? "" : ` stream ${options.stream}`;
    this.name = `nats ${servers.join(",")} ${this.#template.source}${stream}`;
  }

  async send(batch: readonly Delivery[], signal: AbortSignal): Promise<void> {
    if (this.#closed) throw new SinkError("the NATS sink is closed", { retryable: false });
    signal.throwIfAborted();
    const messages = batch.map((d) => ({ event: d.event, subject: this.#template.render(d.event) }));
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new SinkError("the send was aborted", { retryable: true, cause: signal.reason }));
    });
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      const connection = await Promise.race([this.#connect(), aborted]);
      // All of the batch is published at once and in order on one connection: the server stores what it got of it in
      // that order, so a batch sent again after a failure appends the rest behind what JetStream already holds.
      const checks = new Map<string, Promise<SinkError>>();
      const acks = messages.map((m) => this.#publish(connection, m.event, m.subject, checks));
      const settled = await Promise.race([Promise.allSettled(acks), aborted]);
      const failures = settled.flatMap((s) => (s.status === "rejected" ? [s.reason as SinkError] : []));
      if (failures.length > 0) throw failures.find((f) => !f.retryable) ?? failures[0];
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const connection = this.#connection;
    this.#connection = undefined;
    const c = await connection?.catch(() => undefined);
    await c?.nc.close();
  }

  /** Publishes one event; `checks` shares what the stream says about a subject nobody answered on, once per send. */
  async #publish(
    connection: Connection,
    event: CloudEventV1<unknown>,
    subject: string,
    checks: Map<string, Promise<SinkError>>,
  ): Promise<void> {
    const h = headers();
    h.set("Content-Type", "application/cloudevents+json; charset=utf-8");
    const body = JSON.stringify(event instanceof CloudEvent ? event : new CloudEvent(event, false));
    const stream = this.#options.stream;
    try {
      await connection.js.publish(subject, body, {
        msgID: event.id,
        headers: h,
        timeout: this.#ackTimeoutMs,
        ...(stream === undefined ? {} : { expect: { streamName: stream } }),
      });
    } catch (err) {
      if (!causedBy(err, NoRespondersError)) throw this.#failure(connection, err, event, subject);
      let check = checks.get(subject);
      if (check === undefined) {
        check = this.#unanswered(connection, err, subject);
        checks.set(subject, check);
      }
      throw await check;
    }
  }

  /** The connection, made when there is none or the last one closed (it does not reconnect: see `#open`). */
  #connect(): Promise<Connection> {
    if (this.#connection === undefined) {
      const opening = this.#open();
      this.#connection = opening;
      opening.then(
        (c) => {
          void c.nc.closed().then(() => {
            if (this.#connection === opening) this.#connection = undefined;
          });
        },
        () => {
          if (this.#connection === opening) this.#connection = undefined;
        },
      );
    }
    return this.#connection;
  }

  async #open(): Promise<Connection> {
    const o = this.#options;
    // No reconnecting: a reconnecting client throws away what it is asked to publish while away, and each of those
    // publishes waits out its ack timeout. Without it a lost connection fails the batches in flight at once, a send
    // while the server is down fails as fast as the connect does, and the next send connects afresh (to any server).
    const options: NodeConnectionOptions = {
      servers: typeof o.servers === "string" ? o.servers : [...o.servers],
      name: "kindwatch",
      reconnect: false,
      noAsyncTraces: true,
      timeout: o.connectTimeoutMs ?? 5000,
    };
    if (o.user !== undefined) options.user = o.user;
    if (o.password !== undefined) options.pass = o.password;
    if (o.token !== undefined) options.token = o.token;
    if (o.tls) options.tls = { ...o.tls };
    if (o.credsFile !== undefined) {
      const creds = await readFile(o.credsFile).catch((err: unknown) => {
        throw new SinkError(
          `could not read the NATS credentials file: ${err instanceof Error ? err.message : String(err)}`,
          {
            retryable: false,
            cause: err,
          },
        );
      });
      options.authenticator = credsAuthenticator(creds);
    }
    let nc: NatsConnection;
    try {
      nc = await connect(options);
    } catch (err) {
      throw mapped(err, "could not connect to NATS");
    }
    try {
      const js = jetstream(nc, { timeout: this.#ackTimeoutMs });
      const connection = { nc, js, jsm: await js.jetstreamManager(false) };
      if (o.stream !== undefined) await this.#ensureStream(connection, o.stream);
      return connection;
    } catch (err) {
      await nc.close();
      throw err instanceof SinkError ? err : mapped(err, "could not check the JetStream stream");
    }
  }

  /** Checks that `name` exists, or creates it (or adds the template's subjects to it) when so configured. */
  async #ensureStream(connection: Connection, name: string): Promise<void> {
    const subjects = this.#template.wildcard;
    const info = await connection.jsm.streams.info(name).catch((err: unknown) => {
      if (err instanceof JetStreamApiError && err.code === 10059) return undefined;
      throw err;
    });
    if (!this.#options.createStream) {
      if (info === undefined) {
        throw new SinkError(`JetStream stream ${name} does not exist (create it, or let kindwatch create it)`, {
          retryable: false,
        });
      }
      return;
    }
    try {
      if (info === undefined) {
        const window = this.#options.duplicateWindowMs;
        await connection.jsm.streams.add({
          name,
          subjects: [subjects],
          ...(window === undefined ? {} : { duplicate_window: nanos(window) }),
        });
      } else if (!info.config.subjects?.some((s) => covers(s, subjects))) {
        await connection.jsm.streams.update(name, { subjects: [...(info.config.subjects ?? []), subjects] });
      }
    } catch (err) {
      throw mapped(err, `could not create JetStream stream ${name} for ${subjects}`);
    }
  }

  /**
   * Why no stream answered on `subject`. Without a stream named it may be one not made yet; a named stream may have
   * gone or not cover the subject: a required one stops the export, one we create is created (or widened) again and
   * the batch goes on the next try.
   */
  async #unanswered(connection: Connection, err: unknown, subject: string): Promise<SinkError> {
    const stream = this.#options.stream;
    if (stream === undefined) {
      return new SinkError(`no JetStream stream takes subject ${subject} (or JetStream is not running)`, {
        retryable: true,
        cause: err,
      });
    }
    try {
      await this.#ensureStream(connection, stream);
      const info = await connection.jsm.streams.info(stream);
      if (!info.config.subjects?.some((s) => covers(s, subject))) {
        return new SinkError(`JetStream stream ${stream} does not cover subject ${subject}`, {
          retryable: false,
          cause: err,
        });
      }
    } catch (check) {
      return check instanceof SinkError ? check : mapped(check, `could not check JetStream stream ${stream}`);
    }
    return new SinkError(`JetStream stream ${stream} did not answer on ${subject}`, { retryable: true, cause: err });
  }

  /** What a failed publish means for the batch. */
  #failure(connection: Connection, err: unknown, event: CloudEventV1<unknown>, subject: string): SinkError {
    if (err instanceof InvalidArgumentError && /max_payload/.test(err.message)) {
      const limit = connection.nc.info?.max_payload;
      return new SinkError(
        `event ${event.id} is larger than the NATS server's max_payload${limit === undefined ? "" : ` (${limit} bytes)`}`,
        { retryable: false, cause: err },
      );
    }
    return mapped(err, `could not publish event ${event.id} to ${subject}`);
  }
}

/** Whether sending again may help: the server's own verdict for JetStream errors, ours for the client's. */
function mapped(err: unknown, what: string): SinkError {
  if (err instanceof JetStreamApiError) {
    const api = err.apiError();
    return new SinkError(`${what}: JetStream says ${api.description} (${api.err_code})`, {
      retryable: err.status >= 500,
      cause: err,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  const tls = tlsFailure(err);
  if (tls !== undefined) return new SinkError(`${what}: TLS: ${tls}`, { retryable: false, cause: err });
  if (causedBy(err, TimeoutError)) {
    return new SinkError(`${what}: no answer from NATS in time`, { retryable: true, cause: err });
  }
  if (
    causedBy(err, AuthorizationError) ||
    causedBy(err, UserAuthenticationExpiredError) ||
    causedBy(err, PermissionViolationError) ||
    causedBy(err, InvalidSubjectError)
  ) {
    return new SinkError(`${what}: ${message}`, { retryable: false, cause: err });
  }
  return new SinkError(`${what}: ${message}`, { retryable: true, cause: err });
}

/**
 * What went wrong in a TLS handshake (a certificate not trusted, refused, or for another host): the configuration, not
 * the moment, so sending again cannot help.
 */
function tlsFailure(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; depth++) {
    const { code, reason } = e as Error & { code?: unknown; reason?: unknown };
    if (typeof code === "string" && /^(ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO)/.test(code)) {
      return typeof reason === "string" ? reason : e.message;
    }
    e = e.cause;
  }
  return undefined;
}

function causedBy(err: unknown, type: abstract new (...args: never[]) => Error): boolean {
  const chain: unknown[] = [err];
  for (let e = err; e instanceof Error && chain.length < 8; ) {
    e = e.cause;
    chain.push(e);
  }
  return chain.some((e) => e instanceof type);
}

function withoutUserinfo(server: string): string {
  return server.replace(/^([a-z]+:\/\/)?[^@/]*@/i, "$1");
}

const placeholders = { group: "kwgroup", version: "kwversion", kind: "kwkind", resource: "kwresource" } as const;
type Placeholder = keyof typeof placeholders;

interface Template {
  source: string;
  /** The subjects it can render, as a NATS wildcard: `kindwatch.*.*`. */
  wildcard: string;
  render(event: CloudEventV1<unknown>): string;
}

type Part = { literal: string; placeholder?: undefined } | { literal?: undefined; placeholder: Placeholder };

/** Parses a subject template; a template that can only make invalid subjects is refused at once. */
function parseTemplate(source: string): Template {
  const tokens = source.split(".");
  const parts = tokens.map((token) => {
    const pieces = token.split(/(\{[a-z]+\})/).filter((p) => p !== "");
    if (pieces.length === 0 || /[\s*>]/.test(token)) {
      throw new Error(`NATS subject template ${JSON.stringify(source)}: ${JSON.stringify(token)} is no subject token`);
    }
    return pieces.map((p): Part => {
      const name = /^\{([a-z]+)\}$/.exec(p)?.[1];
      if (name === undefined) return { literal: p };
      if (!(name in placeholders)) {
        throw new Error(
          `NATS subject template ${JSON.stringify(source)}: unknown {${name}} (use ${Object.keys(placeholders)
            .map((k) => `{${k}}`)
            .join(", ")})`,
        );
      }
      return { placeholder: name as Placeholder };
    });
  });
  return {
    source,
    wildcard: parts.map((ps) => (ps.some((p) => p.placeholder) ? "*" : ps.map((p) => p.literal).join(""))).join("."),
    render(event) {
      return parts
        .map((ps) =>
          ps
            .map((p) => {
              if (p.placeholder === undefined) return p.literal;
              const value = event[placeholders[p.placeholder]];
              if (p.placeholder === "group" && (value === undefined || value === "")) return "core";
              if (typeof value !== "string" || value === "") {
                throw new SinkError(
                  `event ${event.id} has no ${placeholders[p.placeholder]} extension for the NATS subject ${source}`,
                  { retryable: false },
                );
              }
              // Group names are DNS subdomains (no `_`), so `.` -> `_` keeps them apart; anything else a subject
              // token cannot hold becomes `_` too.
              return value.replace(/[^A-Za-z0-9_-]/g, "_");
            })
            .join(""),
        )
        .join(".");
    },
  };
}

/** Whether NATS subject filter `pattern` matches every subject `subject` (which may hold wildcards) stands for. */
function covers(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length || s[i] === ">") return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}
