/**
 * Helpers for watch-all tests: an engine on a transport of the test's choosing, a log that collects the merged stream
 * as it arrives, short comparable forms of events, a transport that counts the requests it sends by path, and one that
 * holds back the calls a test names.
 */
import { DynamicClient } from "../../src/client/resource.js";
import { loadConfig } from "../../src/config/index.js";
import { DiscoveryClient } from "../../src/discovery/client.js";
import { type RequestOptions, type Response, type StreamResponse, Transport } from "../../src/http/transport.js";
import { WatchAll, type WatchAllCluster, type WatchAllOptions } from "../../src/watchall/engine.js";
import type { KindEvent, ObjectEvent, WatchAllEvent } from "../../src/watchall/types.js";
import type { CrdSpec } from "./crd-manifest.js";
import { uniqueName, waitFor } from "./wait.js";

/**
 * A transport that counts every call by path: `request` (and so `json`) and `stream` (watches). The counting hook is
 * a subclass, so that the library needs no test seam: every request of the engine goes through these two methods.
 */
export class CountingTransport extends Transport {
  readonly calls: { readonly method: string; readonly path: string; readonly stream: boolean }[] = [];

  override request(opts: RequestOptions): Promise<Response> {
    this.calls.push({ method: (opts.method ?? "GET").toUpperCase(), path: opts.path, stream: false });
    return super.request(opts);
  }

  override stream(opts: RequestOptions): Promise<StreamResponse> {
    this.calls.push({ method: (opts.method ?? "GET").toUpperCase(), path: opts.path, stream: true });
    return super.stream(opts);
  }

  /** How many calls went to paths starting with `prefix`. */
  count(prefix: string): number {
    return this.calls.filter((c) => c.path.startsWith(prefix)).length;
  }
}

/** A call held back by a {@link HoldingTransport}: `reached` once it is, and held until {@link release}. */
export class Hold {
  readonly match: (opts: RequestOptions) => boolean;
  /** Resolves when the call is held: with the server's answer for a request, undefined for a stream (not sent yet). */
  readonly reached: Promise<Response | undefined>;
  readonly released: Promise<void>;
  #reach: (response: Response | undefined) => void = () => {};
  #release: () => void = () => {};

  constructor(match: (opts: RequestOptions) => boolean) {
    this.match = match;
    this.reached = new Promise((resolve) => {
      this.#reach = resolve;
    });
    this.released = new Promise((resolve) => {
      this.#release = resolve;
    });
  }

  /** Lets the call go on. */
  release(): void {
    this.#release();
  }

  /** Called by the transport when it holds the call. */
  reach(response?: Response): void {
    this.#reach(response);
  }
}

/**
 * A transport that holds back the next call matching a test's pattern until the test lets it go: a request after
 * the server has answered it (a list read at one moment and delivered later, as a slow connection does), a watch
 * before it is sent (a watch that lags). The server is the real one; only when its answers arrive changes.
 */
export class HoldingTransport extends Transport {
  readonly #holds: Hold[] = [];

  /** Holds the next call for which `match` is true; one call per {@link Hold}. */
  hold(match: (opts: RequestOptions) => boolean): Hold {
    const hold = new Hold(match);
    this.#holds.push(hold);
    return hold;
  }

  #take(opts: RequestOptions): Hold | undefined {
    const i = this.#holds.findIndex((h) => h.match(opts));
    return i < 0 ? undefined : this.#holds.splice(i, 1)[0];
  }

  override async request(opts: RequestOptions): Promise<Response> {
    const response = await super.request(opts);
    const hold = this.#take(opts);
    if (hold) {
      hold.reach(response);
      await hold.released;
    }
    return response;
  }

  override async stream(opts: RequestOptions): Promise<StreamResponse> {
    const hold = this.#take(opts);
    if (hold) {
      hold.reach();
      // The caller may give up meanwhile: its signal then ends the wait, and the call fails as an aborted one does.
      await Promise.race([
        hold.released,
        new Promise<void>((resolve) => {
          if (opts.signal?.aborted) resolve();
          opts.signal?.addEventListener("abort", () => resolve(), { once: true });
        }),
      ]);
    }
    return super.stream(opts);
  }
}

/** The client, discovery and transport an engine needs, on `transport`. */
export function engineCluster(transport: Transport): WatchAllCluster {
  return { transport, client: new DynamicClient(transport), discovery: new DiscoveryClient(transport) };
}

/** A transport for the kubeconfig at `path`. */
export function transportFor(kubeconfig: string): Transport {
  return new Transport(loadConfig({ kubeconfig, env: {} }));
}

/** A holding transport for the kubeconfig at `path`. */
export function holdingTransportFor(kubeconfig: string): HoldingTransport {
  return new HoldingTransport(loadConfig({ kubeconfig, env: {} }));
}

/** A counting transport for the kubeconfig at `path`. */
export function countingTransportFor(kubeconfig: string): CountingTransport {
  return new CountingTransport(loadConfig({ kubeconfig, env: {} }));
}

/** Tight retries, so that a test sees a retry loop (or its absence) within a second. */
export const fastRetries: WatchAllOptions = {
  informer: { backoff: { initialMs: 50, maxMs: 400 } },
};

/** A unique API group for one test. */
export function uniqueGroup(prefix: string): string {
  return `${uniqueName(prefix)}.kindwatch.dev`;
}

/** A test CRD of one version, `v1`, in `group`. */
export function simpleCrd(group: string, kind = "Gizmo", scope: "Namespaced" | "Cluster" = "Namespaced"): CrdSpec {
  return { group, kind, plural: `${kind.toLowerCase()}s`, scope, versions: [{ name: "v1", storage: true }] };
}

/** A short, comparable form of an object event: `ADDED live`, `MODIFIED live spec.n`, `DELETED relist unknown`. */
export function showObject(e: ObjectEvent): string {
  const paths = e.changedPaths?.filter((p) => p !== "metadata.resourceVersion" && p !== "metadata.generation");
  return [e.type, e.origin, ...(paths?.length ? [paths.join(",")] : []), ...(e.finalStateUnknown ? ["unknown"] : [])]
    .join(" ")
    .trim();
}

/** A short form of a kind event: `KIND_SYNCED v1`. */
export function showKind(e: KindEvent): string {
  return `${e.type} ${e.version}`;
}

/** Whether `e` is about an object (not a kind). */
export function isObjectEvent(e: WatchAllEvent): e is ObjectEvent {
  return e.type === "ADDED" || e.type === "MODIFIED" || e.type === "DELETED";
}

/** Collects an engine's merged stream in the background. */
export class EventLog {
  readonly engine: WatchAll;
  readonly events: WatchAllEvent[] = [];
  /** Settles when the stream ends. */
  readonly ended: Promise<void>;
  error: unknown;

  constructor(engine: WatchAll) {
    this.engine = engine;
    this.ended = (async () => {
      try {
        for await (const e of engine) this.events.push(e);
      } catch (err) {
        this.error = err;
      }
    })();
  }

  /** Starts an engine with `options` on `cluster` and collects its stream. */
  static start(cluster: WatchAllCluster, options: WatchAllOptions): EventLog {
    const engine = new WatchAll(cluster, options);
    const log = new EventLog(engine);
    void engine.start();
    return log;
  }

  /** The events of `group`. */
  of(group: string): WatchAllEvent[] {
    return this.events.filter((e) => e.group === group);
  }

  /** The kind events of `group`, short. */
  kinds(group: string): string[] {
    return this.of(group)
      .filter((e): e is KindEvent => !isObjectEvent(e))
      .map(showKind);
  }

  /** The events of object `name` of `group`, short. */
  object(group: string, name: string): string[] {
    return this.of(group)
      .filter((e): e is ObjectEvent => isObjectEvent(e) && e.name === name)
      .map(showObject);
  }

  /** The first event of `group` matching `match`, waited for. */
  async next(
    what: string,
    match: (e: WatchAllEvent) => boolean,
    { from = 0, timeoutMs = 30_000 }: { from?: number; timeoutMs?: number } = {},
  ): Promise<WatchAllEvent> {
    return waitFor(
      what,
      () => {
        if (this.error) throw this.error;
        return this.events.slice(from).find(match);
      },
      { timeoutMs },
    );
  }

  /** Waits for `type` of kind `group`. */
  kindEvent(group: string, type: KindEvent["type"], timeoutMs = 30_000): Promise<WatchAllEvent> {
    return this.next(`${type} of ${group}`, (e) => e.group === group && e.type === type, { timeoutMs });
  }

  /** Stops the engine and waits for the stream to end. */
  async stop(): Promise<void> {
    await this.engine.stop();
    await this.ended;
  }
}
