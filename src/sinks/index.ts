/** Sinks: the watch-all stream delivered to other systems as CloudEvents, at least once. */
import { readFileSync } from "node:fs";
import type { Writable } from "node:stream";
import { ConfigError } from "../config/errors.js";
import { FileSink } from "./file.js";
import { HttpSink, type HttpSinkMode } from "./http.js";
import { KafkaSink } from "./kafka.js";
import { natsSink } from "./nats.js";
import type { Sink } from "./types.js";

export {
  CloudEventMaker,
  type CloudEventOptions,
  collectionPath,
  type DataMode,
  deliveryKey,
  type JsonPatchOp,
  jsonPatch,
  objectEventId,
} from "./cloudevent.js";
export { ExportError, Exporter, type ExporterOptions, type ExporterStatus, type ExportSource } from "./exporter.js";
export { FileSink, type FileSinkOptions } from "./file.js";
export { type Delivery, type Sink, SinkError } from "./types.js";

/** Options every sink made by {@link sinkFromUrl} may take; each sink reads those it understands. */
export interface SinkUrlOptions {
  /** Where `-` writes; default `process.stdout`. */
  readonly stdout?: Writable | undefined;
  /**
   * Sink options by name (`kindwatch export --sink-option NAME=VALUE`), as {@link sinkOptionNames} lists per scheme.
   * NATS and Kafka URLs may carry the same options in their query instead; an HTTP URL's query is the receiver's.
   * Credentials are only ever named by file (`headers-file`, `creds-file`), never given in a URL or an option.
   */
  readonly options?: Readonly<Record<string, string>> | undefined;
}

/** The options each scheme takes, by name (for `--sink-option NAME=VALUE` and NATS and Kafka URL queries). */
export const sinkOptionNames: Readonly<Record<"http" | "nats" | "kafka", readonly string[]>> = {
  http: [
    "mode",
    "batch",
    "headers-file",
    "bearer-token-file",
    "ca-file",
    "cert-file",
    "key-file",
    "insecure-skip-verify",
    "timeout-ms",
  ],
  nats: [
    "subject",
    "stream",
    "create-stream",
    "creds-file",
    "token-file",
    "ca-file",
    "cert-file",
    "key-file",
    "batch",
    "ack-timeout-ms",
  ],
  kafka: ["topic", "mode", "batch", "client-id", "tls", "ca-file", "cert-file", "key-file"],
};

/** A sink URL taken apart: scheme, host list (NATS and Kafka take several, comma-separated), path and query. */
interface SinkUrl {
  /** As given, for messages; userinfo is refused before anything logs it. */
  readonly href: string;
  readonly scheme: string;
  readonly hosts: readonly string[];
  readonly path: string;
  readonly query: URLSearchParams;
}

/** Reads options from `given` (and `query`), refusing names the scheme does not take and names given twice. */
class Options {
  readonly #values = new Map<string, string>();
  readonly #href: string;

  constructor(
    href: string,
    scheme: keyof typeof sinkOptionNames,
    given: Readonly<Record<string, string>>,
    query?: URLSearchParams,
  ) {
    this.#href = href;
    const known = sinkOptionNames[scheme];
    const add = (name: string, value: string, where: string) => {
      if (!known.includes(name)) {
        throw new ConfigError(
          `sink ${href}: ${scheme} takes no option ${name} (${where}); it takes ${known.join(", ")}`,
        );
      }
      if (this.#values.has(name)) throw new ConfigError(`sink ${href}: option ${name} is given twice`);
      this.#values.set(name, value);
    };
    for (const [name, value] of Object.entries(given)) add(name, value, "--sink-option");
    for (const [name, value] of query ?? []) add(name, value, "in the URL's query");
  }

  string(name: string): string | undefined {
    return this.#values.get(name);
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const value = this.#values.get(name);
    if (value === undefined || (values as readonly string[]).includes(value)) return value as T | undefined;
    throw new ConfigError(`sink ${this.#href}: ${name}=${value}: use ${values.join(", ")}`);
  }

  count(name: string): number | undefined {
    const value = this.#values.get(name);
    if (value === undefined) return undefined;
    if (!/^[1-9][0-9]*$/.test(value))
      throw new ConfigError(`sink ${this.#href}: ${name}=${value}: use a positive integer`);
    return Number(value);
  }

  flag(name: string): boolean | undefined {
    const value = this.#values.get(name);
    if (value === undefined) return undefined;
    if (value === "true" || value === "") return true;
    if (value === "false") return false;
    throw new ConfigError(`sink ${this.#href}: ${name}=${value}: use true or false`);
  }
}

/** `file(path)` read now, for a token option: a missing file is a one-line error, the token is never shown. */
function secretFile(href: string, name: string, path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (err) {
    throw new ConfigError(
      `sink ${href}: ${name} ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
}

/** A sink constructor's complaint as the one-line ConfigError the CLI prints. */
function made<T>(href: string, make: () => T): T {
  try {
    return make();
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`sink ${href}: ${(err as Error).message}`);
  }
}

function httpSink(url: SinkUrl, options: SinkUrlOptions): Sink {
  const o = new Options(url.href, "http", options.options ?? {});
  const [host] = url.hosts;
  const query = url.query.size > 0 ? `?${url.query}` : "";
  return made(
    url.href,
    () =>
      new HttpSink({
        url: `${url.scheme}//${host}${url.path}${query}`,
        mode: o.oneOf<HttpSinkMode>("mode", ["binary", "structured", "batch"]),
        maxBatch: o.count("batch"),
        headersFile: o.string("headers-file"),
        bearerTokenFile: o.string("bearer-token-file"),
        tls: {
          caFile: o.string("ca-file"),
          certFile: o.string("cert-file"),
          keyFile: o.string("key-file"),
          insecureSkipVerify: o.flag("insecure-skip-verify"),
        },
        timeoutMs: o.count("timeout-ms"),
      }),
  );
}

function natsSinkOf(url: SinkUrl, options: SinkUrlOptions): Sink {
  if (url.path !== "" && url.path !== "/") {
    throw new ConfigError(
      `sink ${url.href}: a NATS URL has no path; name the subject in the query: nats://host:4222?subject=events.{resource}`,
    );
  }
  const o = new Options(url.href, "nats", options.options ?? {}, url.query);
  const tokenFile = o.string("token-file");
  const caFile = o.string("ca-file");
  const certFile = o.string("cert-file");
  const keyFile = o.string("key-file");
  const tls = caFile ?? certFile ?? keyFile;
  const servers = url.hosts.map((h) => `${tls === undefined ? "nats" : "tls"}://${h}`);
  const subject = o.string("subject");
  const stream = o.string("stream");
  const createStream = o.flag("create-stream");
  const credsFile = o.string("creds-file");
  const maxBatch = o.count("batch");
  const ackTimeoutMs = o.count("ack-timeout-ms");
  return made(url.href, () =>
    natsSink({
      servers,
      ...(subject === undefined ? {} : { subject }),
      ...(stream === undefined ? {} : { stream }),
      ...(createStream === undefined ? {} : { createStream }),
      ...(credsFile === undefined ? {} : { credsFile }),
      ...(tokenFile === undefined ? {} : { token: secretFile(url.href, "token-file", tokenFile) }),
      ...(tls === undefined
        ? {}
        : {
            tls: {
              ...(caFile === undefined ? {} : { caFile }),
              ...(certFile === undefined ? {} : { certFile }),
              ...(keyFile === undefined ? {} : { keyFile }),
            },
          }),
      ...(maxBatch === undefined ? {} : { maxBatch }),
      ...(ackTimeoutMs === undefined ? {} : { ackTimeoutMs }),
    }),
  );
}

function kafkaSink(url: SinkUrl, options: SinkUrlOptions): Sink {
  const o = new Options(url.href, "kafka", options.options ?? {}, url.query);
  const fromPath = decodeURIComponent(url.path.replace(/^\//, ""));
  if (fromPath.includes("/")) {
    throw new ConfigError(`sink ${url.href}: a Kafka URL's path is one topic: kafka://broker:9092/events`);
  }
  if (fromPath !== "" && o.string("topic") !== undefined) {
    throw new ConfigError(`sink ${url.href}: the topic is given twice: in the path or as topic=, not both`);
  }
  const ca = o.string("ca-file");
  const cert = o.string("cert-file");
  const key = o.string("key-file");
  const read = (name: string, path: string | undefined) =>
    path === undefined
      ? {}
      : {
          [name]: (() => {
            try {
              return readFileSync(path, "utf8");
            } catch (err) {
              throw new ConfigError(
                `sink ${url.href}: ${name}-file ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? err})`,
              );
            }
          })(),
        };
  const files = { ...read("ca", ca), ...read("cert", cert), ...read("key", key) };
  const tls = o.flag("tls");
  if (tls === false && Object.keys(files).length > 0) {
    throw new ConfigError(`sink ${url.href}: ca-file, cert-file and key-file need TLS: drop tls=false`);
  }
  const ssl = Object.keys(files).length > 0 ? files : tls;
  return made(
    url.href,
    () =>
      new KafkaSink({
        brokers: url.hosts,
        topic: fromPath || o.string("topic"),
        mode: o.oneOf("mode", ["binary", "structured"] as const),
        maxBatch: o.count("batch"),
        clientId: o.string("client-id"),
        ...(ssl === undefined ? {} : { ssl }),
      }),
  );
}

/** The sinks by URL scheme, with what to write for each when a URL cannot be one. */
const schemes: Readonly<Record<string, { example: string; make: (url: SinkUrl, options: SinkUrlOptions) => Sink }>> = {
  "file:": {
    example: "file:///path/events.ndjson",
    make: (url) => {
      if (url.hosts.join(",") !== "")
        throw new ConfigError(`sink ${url.href}: a file URL has no host: file:///path/to/events.ndjson`);
      return new FileSink({ path: decodeURIComponent(url.path) });
    },
  },
  "http:": { example: "http://host:8080/events", make: httpSink },
  "https:": { example: "https://host/events", make: httpSink },
  "nats:": { example: "nats://host:4222?stream=KINDWATCH", make: natsSinkOf },
  "kafka:": { example: "kafka://broker1:9092,broker2:9092/topic", make: kafkaSink },
};

/** Only NATS and Kafka name several hosts. */
const multiHost = new Set(["nats:", "kafka:"]);

function parseSinkUrl(url: string): SinkUrl {
  const parts = /^([a-zA-Z][a-zA-Z0-9+.-]*:)\/\/([^/?#]*)([^?#]*)(\?[^#]*)?$/.exec(url);
  const scheme = parts?.[1]?.toLowerCase();
  if (!parts || !scheme) {
    throw new ConfigError(`sink ${url} is not a URL: use file:///path/events.ndjson or - for stdout`);
  }
  const authority = parts[2] ?? "";
  if (authority.includes("@")) {
    const at = scheme === "nats:" ? "creds-file=PATH or token-file=PATH" : "headers-file=PATH";
    throw new ConfigError(
      `sink ${scheme}//…: credentials do not go in the URL (it is logged): use --sink-option ${at}`,
    );
  }
  const hosts = authority === "" ? [""] : authority.split(",");
  if (hosts.length > 1 && !multiHost.has(scheme)) {
    throw new ConfigError(`sink ${url}: only nats:// and kafka:// URLs take several hosts`);
  }
  for (const host of hosts) {
    if (host === "" && scheme !== "file:")
      throw new ConfigError(`sink ${url}: no host; e.g. ${schemes[scheme]?.example ?? "file:///path/events.ndjson"}`);
    if (host === "") continue;
    try {
      new URL(`http://${host}`);
    } catch {
      throw new ConfigError(`sink ${url}: ${host} is not host or host:port`);
    }
  }
  return { href: url, scheme, hosts, path: parts[3] ?? "", query: new URLSearchParams(parts[4] ?? "") };
}

/**
 * The sink a URL names: `file:///path/events.ndjson` (NDJSON appended to a file), `-` (NDJSON on stdout),
 * `http(s)://host/path` (CloudEvents over HTTP), `nats://host:4222[,host:4222]?stream=NAME` (JetStream) or
 * `kafka://broker:9092[,broker:9092]/topic`, with options from {@link SinkUrlOptions.options}. Throws a
 * {@link ConfigError} with a one-line message saying what to write instead.
 */
export function sinkFromUrl(url: string, options: SinkUrlOptions = {}): Sink {
  if (url === "-") {
    if (Object.keys(options.options ?? {}).length > 0) throw new ConfigError("sink -: stdout takes no options");
    return new FileSink({ path: "-", stdout: options.stdout });
  }
  const parsed = parseSinkUrl(url);
  const scheme = schemes[parsed.scheme];
  if (!scheme) {
    const known = [...Object.keys(schemes).map((s) => `${s}//`), "-"].join(", ");
    throw new ConfigError(`sink ${url}: no sink for ${parsed.scheme}// (use ${known})`);
  }
  if (parsed.scheme === "file:" && Object.keys(options.options ?? {}).length > 0) {
    throw new ConfigError(`sink ${url}: a file sink takes no options`);
  }
  return scheme.make(parsed, options);
}
