/** Sinks: the watch-all stream delivered to other systems as CloudEvents, at least once. */
import type { Writable } from "node:stream";
import { ConfigError } from "../config/errors.js";
import { FileSink } from "./file.js";
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
}

/** The sinks by URL scheme: each makes its sink from the parsed URL (the lead adds http(s), nats and kafka here). */
const schemes: Readonly<Record<string, (url: URL, options: SinkUrlOptions) => Sink>> = {
  "file:": (url) => {
    if (url.host !== "")
      throw new ConfigError(`sink ${url.href}: a file URL has no host: file:///path/to/events.ndjson`);
    return new FileSink({ path: decodeURIComponent(url.pathname) });
  },
};

/**
 * The sink a URL names: `file:///path/events.ndjson` (NDJSON appended to a file) or `-` (NDJSON on stdout). Throws
 * a {@link ConfigError} with a one-line message for anything else.
 */
export function sinkFromUrl(url: string, options: SinkUrlOptions = {}): Sink {
  if (url === "-") return new FileSink({ path: "-", stdout: options.stdout });
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`sink ${url} is not a URL: use file:///path/events.ndjson or - for stdout`);
  }
  const make = schemes[parsed.protocol];
  if (!make) {
    const known = [...Object.keys(schemes).map((s) => `${s}//`), "-"].join(", ");
    throw new ConfigError(`sink ${url}: no sink for ${parsed.protocol}// (use ${known})`);
  }
  return make(parsed, options);
}
