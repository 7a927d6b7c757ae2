/**
 * The three parts of undici the transport uses, loaded on first use and without the rest. undici's index also loads every other
 * dispatcher, the mocks, the cache stores and fetch (and with them Node's own bundled copy of undici): about three
 * times the module loading, which every run of a command line pays. undici has no exports map, so its files are
 * reachable; they are undici 7's layout, and where they are not found the whole package is loaded as before.
 */
import { createRequire } from "node:module";
import type * as Undici from "undici";

export interface Parts {
  readonly Pool: typeof Undici.Pool;
  readonly Client: typeof Undici.Client;
  readonly buildConnector: typeof Undici.buildConnector;
}

const require = createRequire(import.meta.url);

function load(): Parts {
  try {
    const dispatcher = require("undici/lib/dispatcher/dispatcher.js") as { prototype: object };
    // What undici's index does before anything can send: request(), stream() and the rest live on the prototype.
    if (!("request" in dispatcher.prototype)) Object.assign(dispatcher.prototype, require("undici/lib/api/index.js"));
    return {
      Pool: require("undici/lib/dispatcher/pool.js") as typeof Undici.Pool,
      Client: require("undici/lib/dispatcher/client.js") as typeof Undici.Client,
      buildConnector: require("undici/lib/core/connect.js") as typeof Undici.buildConnector,
    };
  } catch {
    return require("undici") as typeof Undici;
  }
}

let parts: Parts | undefined;

/**
 * undici's parts, loaded on the first call: over HTTP/2 the transport never needs them, and loading them costs a
 * command line run about 50 ms of CPU.
 */
export function undici(): Parts {
  parts ??= load();
  return parts;
}

/** undici's connection pool. */
export type Pool = Undici.Pool;
/** undici's single-connection client. */
export type Client = Undici.Client;
/** A connector made by undici's `buildConnector`. */
export type Connector = Undici.buildConnector.connector;
