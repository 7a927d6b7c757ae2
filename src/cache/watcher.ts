/**
 * The watcher: list, then watch, forever, as one async iterable of explicit events. Disconnects, server timeouts,
 * `410 Gone`, restarts and errors are handled inside; the caller sees them only as `init-*` events (a relist) and
 * `error` events (reported, then retried with backoff). It ends only when its signal aborts or its consumer stops.
 *
 * The shape follows kube-rs's `watcher()` (explicit init start/page/done events); the semantics follow client-go's
 * Reflector (re-watch from the last resourceVersion, relist on Gone, bookmarks, streaming lists). Underneath it pushes
 * ({@link runWatcher}): each network read of a watch goes to the consumer in one synchronous pass, and the watch pauses
 * while the consumer is behind.
 */
import type {
  ListOptions,
  PartialObjectMetadata,
  SelectorOptions,
  WatchEvent,
  WatchOptions,
  WatchSink,
  WatchSubscription,
} from "../client/options.js";
import type { ResourceClient } from "../client/resource.js";
import { ApiError, type ErrorKind, isGone } from "../http/errors.js";
import type { Recovery } from "../http/recovery.js";
import type { KubeObject, List } from "../object/types.js";
import { definedProps } from "../util/defined.js";
import { Backoff, type BackoffOptions, delay } from "./backoff.js";

/** What a watcher watches: a list and a watch of the same selection. */
export interface ListWatch<T extends KubeObject> {
  /** One page of the list (the watcher follows `continue` itself). */
  list(opts: ListOptions): Promise<List<T>>;
  /** A watch from `opts.resourceVersion`, ending when the server ends it or `opts.signal` fires. */
  watch(opts: WatchOptions): AsyncIterable<WatchEvent<T>>;
  /**
   * The same watch with the events of each network read together (never an empty batch); when given, the watcher
   * reads it instead of {@link ListWatch.watch}: one await per read rather than several per event.
   */
  readonly watchBatches?: ((opts: WatchOptions) => AsyncIterable<readonly WatchEvent<T>[]>) | undefined;
  /**
   * The same watch pushing each network read's events into `sink` ({@link ResourceClient.watchPush}); when given, the
   * watcher uses it rather than either iterable: no promise or async step per read, and the watch pauses while the
   * consumer is behind.
   */
  readonly watchPush?: ((opts: WatchOptions, sink: WatchSink<T>) => WatchSubscription) | undefined;
  /** For messages: e.g. "widgets.v1.example.com in namespace demo". */
  readonly description: string;
  /**
   * Wakes the watcher's backoff after an outage as soon as the server answers again, rather than when the backoff ends;
   * `listWatchOf()` gives its transport's. Without it the watcher waits out every backoff.
   */
  readonly recovery?: Recovery | undefined;
}

/**
 * `source` with its calls replaced by `calls`, keeping what a wrapper does not change (its description and its
 * recovery): one place that knows every such part, so that no wrapper silently drops one.
 */
export function wrapListWatch<T extends KubeObject>(
  source: ListWatch<T>,
  calls: Pick<ListWatch<T>, "list" | "watch"> & {
    readonly watchBatches?: ListWatch<T>["watchBatches"];
    readonly watchPush?: ListWatch<T>["watchPush"];
  },
): ListWatch<T> {
  return {
    description: source.description,
    recovery: source.recovery,
    ...calls,
  };
}

/** Which objects of a resource to watch, and whether only their metadata. */
export interface Selection {
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  /** Watch `PartialObjectMetadata` only: far less data for kinds with large specs. */
  readonly metadataOnly?: boolean | undefined;
}

/** The {@link ListWatch} of a resource client (one namespace or all) with a selection: objects typed as the client's. */
export function listWatchOf<T extends KubeObject = KubeObject>(
  client: ResourceClient<T>,
  selection?: Selection & { readonly metadataOnly?: false | undefined },
): ListWatch<T>;
/** With `metadataOnly`, the objects are `PartialObjectMetadata`, whatever the client's type. */
export function listWatchOf(
  client: ResourceClient<KubeObject>,
  selection: Selection & { readonly metadataOnly: true },
): ListWatch<PartialObjectMetadata>;
/** With `metadataOnly` known only at run time: objects or their metadata. */
export function listWatchOf(client: ResourceClient<KubeObject>, selection?: Selection): ListWatch<KubeObject>;
export function listWatchOf(client: ResourceClient<KubeObject>, selection: Selection = {}): ListWatch<KubeObject> {
  // Left out when empty, so that they never override what the caller's options hold.
  const sel = definedProps<SelectorOptions>({
    labelSelector: selection.labelSelector || undefined,
    fieldSelector: selection.fieldSelector || undefined,
  });
  const ns = client.namespaceName ? ` in namespace ${client.namespaceName}` : "";
  const { group, version, resource } = client.gvr;
  return {
    description: `${resource}${group ? `.${group}` : ""}/${version}${ns}`,
    recovery: client.transport.recovery,
    list: (opts) =>
      selection.metadataOnly ? client.listMetadata({ ...opts, ...sel }) : client.list({ ...opts, ...sel }),
    watch: (opts) =>
      selection.metadataOnly ? client.watchMetadata({ ...opts, ...sel }) : client.watch({ ...opts, ...sel }),
    watchBatches: (opts) =>
      selection.metadataOnly
        ? client.watchMetadataBatches({ ...opts, ...sel })
        : client.watchBatches({ ...opts, ...sel }),
    watchPush: (opts, sink) =>
      selection.metadataOnly
        ? client.watchMetadataPush({ ...opts, ...sel }, sink)
        : client.watchPush({ ...opts, ...sel }, sink),
  };
}

/** Why the watcher is (re)building its initial state. */
export type InitReason = "initial" | "relist";

/** What a watcher yields. */
export type WatcherEvent<T> =
  /** A (re)list begins; the objects that follow in `init-object` events replace everything known before. */
  | { readonly type: "init-start"; readonly reason: InitReason; readonly streaming: boolean }
  | { readonly type: "init-object"; readonly object: T }
  /** The (re)list is complete: what was not in it no longer exists. */
  | { readonly type: "init-done"; readonly resourceVersion: string }
  /** An object was added or changed while watching. */
  | { readonly type: "apply"; readonly object: T }
  /** An object was deleted while watching; `object` is its final state. */
  | { readonly type: "delete"; readonly object: T }
  | { readonly type: "bookmark"; readonly resourceVersion: string }
  /**
   * Something failed; the watcher retries by itself after `retryInMs`, or sooner when the server did not answer and
   * its {@link ListWatch.recovery} sees it answer again (never sooner than a `Retry-After`).
   */
  | { readonly type: "error"; readonly error: ApiError; readonly retryInMs: number };

/** Tuning of a {@link watcher}. */
export interface WatcherOptions {
  readonly signal?: AbortSignal | undefined;
  /** Page size of the initial list; default 500. */
  readonly pageSize?: number | undefined;
  /**
   * Build the initial state with a streaming list (`sendInitialEvents`) rather than a paginated list: "auto" (default)
   * tries it at each (re)list and falls back to a paginated list for that one when it fails or the server refuses it.
   */
  readonly streamingList?: boolean | "auto" | undefined;
  /** Server-side watch timeout is drawn from [min, 2 × min) seconds so that watchers do not reconnect in step; default 300. */
  readonly minWatchTimeoutSeconds?: number | undefined;
  /**
   * A watch that sends nothing for this long while the watcher waits on it is presumed dead (half-open connection) and
   * reopened from the same resourceVersion; default 90 s.
   */
  readonly idleTimeoutMs?: number | undefined;
  readonly backoff?: BackoffOptions | undefined;
  /**
   * The resourceVersion of the first paginated list: "" (default) a consistent read, served from the API server's watch
   * cache once it has caught up with etcd (1.31 and later) or else from etcd; "0", as client-go's reflector, whatever
   * the watch cache holds, at once and whole in one response (it ignores the page size), possibly older than etcd.
   * Relists always read consistently: they must not go back before what was already seen.
   */
  readonly initialListResourceVersion?: "" | "0" | undefined;
  /**
   * Leave `metadata.managedFields` out of the objects a watch (or a streaming list) brings, cut before they are parsed;
   * the informer asks for it when its transform is the default, which drops them anyway.
   */
  readonly dropManagedFields?: boolean | undefined;
}

function resourceVersionOf(obj: unknown): string | undefined {
  const rv = (obj as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
  return typeof rv === "string" && rv ? rv : undefined;
}

function isInitialEventsEnd(obj: unknown): boolean {
  const annotations = (obj as { metadata?: { annotations?: Record<string, unknown> } } | null)?.metadata?.annotations;
  return annotations?.["k8s.io/initial-events-end"] === "true";
}

function toApiError(err: unknown, description: string): ApiError {
  if (err instanceof ApiError) return err;
  const message = `${description}: ${err instanceof Error ? err.message : String(err)}`;
  return new ApiError({ kind: "Unknown", status: 0, message, cause: err });
}

/** As the transport: APF asks for at most 32 s; anything longer is a proxy's mistake, not a reason to stay away. */
const maxRetryAfterMs = 60_000;

/** How long the server asked us to wait before trying again (`Retry-After`), capped; 0 when it did not say. */
function retryAfterMs(err: ApiError): number {
  const seconds = err.retryAfterSeconds;
  return seconds === undefined ? 0 : Math.min(seconds * 1000, maxRetryAfterMs);
}

/** A watch that ends this soon without a single event is a failure, not a server timeout (as client-go judges it). */
const shortWatchMs = 1000;

/** Lists then watches `source` forever; see the module comment. */
export async function* watcher<T extends KubeObject>(
  source: ListWatch<T>,
  options: WatcherOptions = {},
): AsyncGenerator<WatcherEvent<T>> {
  for await (const batch of watcherBatches(source, options)) {
    for (const event of batch) {
      if (options.signal?.aborted) return;
      yield event;
    }
  }
}

/**
 * {@link watcher} with the events that one network read (or one list page) brought delivered together, in order and
 * never an empty batch. It reads ahead by one read at most: the watch is paused until its consumer has taken the batch.
 */
export async function* watcherBatches<T extends KubeObject>(
  source: ListWatch<T>,
  options: WatcherOptions = {},
): AsyncGenerator<WatcherEvent<T>[]> {
  const parent = options.signal;
  const stop = new AbortController();
  const queue: WatcherEvent<T>[][] = [];
  let caughtUp: (() => void)[] = [];
  let wake: (() => void) | undefined;
  const woken = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let finished = false;
  let failure: unknown;
  const sink: WatcherSink<T> = {
    batch: (events) => {
      queue.push(events);
      woken();
      return false;
    },
    ready: () => new Promise<void>((resolve) => caughtUp.push(resolve)),
  };
  const running = runWatcher(source, options, sink, stop.signal).then(
    () => {
      finished = true;
      woken();
    },
    (err: unknown) => {
      failure = err;
      finished = true;
      woken();
    },
  );
  const release = () => {
    const waiting = caughtUp;
    caughtUp = [];
    for (const resolve of waiting) resolve();
  };
  try {
    for (;;) {
      if (parent?.aborted) return;
      const batch = queue.shift();
      if (batch) {
        yield batch;
        continue;
      }
      if (finished) {
        if (failure !== undefined) throw failure;
        return;
      }
      release();
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    stop.abort();
    release();
    await running;
  }
}

/** Where {@link runWatcher} delivers, with flow control: the consumer says when it is behind and when it caught up. */
export interface WatcherSink<T> {
  /**
   * Takes the events of one network read or list page, in order, never empty, synchronously. Returns false when the
   * consumer is behind: the watcher then reads nothing more (the watch is paused) until {@link WatcherSink.ready}
   * resolves.
   */
  batch(events: WatcherEvent<T>[]): boolean;
  /** Resolves once the consumer has caught up, after {@link WatcherSink.batch} returned false. */
  ready(): Promise<void>;
}

/**
 * The watcher pushing its batches into `sink`: a watch's events go from each network read to the sink in one
 * synchronous pass (when the source offers {@link ListWatch.watchPush}). Resolves once `options.signal` (or `halt`,
 * which the source's calls are not given) aborts.
 */
export async function runWatcher<T extends KubeObject>(
  source: ListWatch<T>,
  options: WatcherOptions,
  sink: WatcherSink<T>,
  halt?: AbortSignal,
): Promise<void> {
  const callSignal = options.signal;
  const signal = halt && callSignal ? AbortSignal.any([callSignal, halt]) : (halt ?? callSignal);
  const backoff = new Backoff(options.backoff);
  const minTimeout = options.minWatchTimeoutSeconds ?? 300;
  const idleTimeoutMs = options.idleTimeoutMs ?? 90_000;
  const streaming = options.streamingList ?? "auto";
  let resourceVersion: string | undefined;
  let reason: InitReason = "initial";
  /** A streaming list just failed: the next (re)list is a paginated one, then streaming is tried again. */
  let listOnce = false;
  /** The kind of the last failure. */
  let previousFailure: ErrorKind | undefined;

  /** Hands `events` over; false when the consumer is behind: then wait for {@link WatcherSink.ready}. */
  const emit = (events: WatcherEvent<T>[]): boolean => sink.batch(events);
  const ready = () => abortable(sink.ready(), signal);

  const openWatch = (opts: WatchOptions): WatchStream<T> =>
    new WatchStream(
      source,
      {
        allowWatchBookmarks: true,
        timeoutSeconds: Math.floor(minTimeout * (1 + Math.random())),
        ...definedProps({ dropManagedFields: options.dropManagedFields || undefined }),
        ...opts,
      },
      idleTimeoutMs,
      signal,
    );

  while (!signal?.aborted) {
    try {
      if (resourceVersion === undefined && (streaming === false || listOnce)) {
        listOnce = false;
        if (!emit([{ type: "init-start", reason, streaming: false }])) await ready();
        let token: string | undefined;
        let listVersion = "";
        // Whatever the watch cache holds is good enough only while nothing has been seen: a relist must not go back.
        const anyVersion = reason === "initial" && options.initialListResourceVersion === "0";
        const at = definedProps<ListOptions>({
          resourceVersion: anyVersion ? "0" : undefined,
          signal: callSignal,
        });
        do {
          if (signal?.aborted) return;
          let page: List<T>;
          try {
            page = await abortable(
              source.list({
                // A continue token carries its list's resourceVersion: the server refuses another beside it.
                ...(token ? definedProps({ continue: token, signal: callSignal }) : at),
                limit: options.pageSize ?? 500,
              }),
              signal,
            );
          } catch (err) {
            // As client-go's pager: a later page that is Gone means the list outlived etcd's compaction window, and
            // so would a list started again from its first page, for ever when each takes that long. One full list
            // instead, which has no later page to expire; it replaces what the earlier pages brought.
            if (!token || !isGone(err) || signal?.aborted) throw err;
            if (!emit([{ type: "init-start", reason, streaming: false }])) await ready();
            if (signal?.aborted) return;
            page = await abortable(source.list(at), signal);
          }
          const items = page.items ?? [];
          if (items.length > 0) {
            if (!emit(items.map((object): WatcherEvent<T> => ({ type: "init-object", object })))) await ready();
            if (signal?.aborted) return;
          }
          token = page.metadata?.continue || undefined;
          listVersion = page.metadata?.resourceVersion ?? listVersion;
        } while (token);
        resourceVersion = listVersion;
        reason = "relist";
        if (!emit([{ type: "init-done", resourceVersion }])) await ready();
        continue;
      }

      /** Whether this watch is a streaming list still listing: its events build the initial state. */
      let listing = resourceVersion === undefined;
      if (listing && !emit([{ type: "init-start", reason, streaming: true }])) await ready();
      if (signal?.aborted) return;
      const stream = openWatch(
        listing
          ? {
              sendInitialEvents: true,
              resourceVersionMatch: "NotOlderThan",
              resourceVersion: "",
              // A streaming list is served by the watch cache, and a cache still filling (a new CRD's, for one)
              // answers 429 "storage is (re)initializing" with Retry-After: 1 s, while the paginated list we fall back
              // to is served from etcd at once: a 429 goes to that fallback, not to the transport's retry after a second.
              ...definedProps({ maxRetries: streaming === "auto" ? 0 : undefined }),
            }
          : { resourceVersion },
      );
      /** Hands over what a read brought so far; false: the consumer stopped the watcher. */
      const flush = (batch: WatcherEvent<T>[]): boolean => {
        if (batch.length > 0 && !sink.batch(batch)) stream.pauseUntil(sink.ready());
        return !signal?.aborted;
      };
      // One read in one synchronous pass, straight from the network: no await per read or per event.
      const onRead = (events: readonly WatchEvent<T>[]): ApiError | undefined => {
        let batch: WatcherEvent<T>[] = [];
        for (let i = 0; i < events.length; i++) {
          const event = events[i] as WatchEvent<T>;
          if (event.type === "ERROR") {
            // The events before an error in the same read happened: they go out before the error is handled.
            flush(batch);
            return event.error;
          }
          backoff.healthy();
          if (listing) {
            if (event.type === "BOOKMARK") {
              if (!isInitialEventsEnd(event.object)) continue;
              // What the same read brought after the list's end is the live watch's: it comes after init-done.
              listing = false;
              resourceVersion = resourceVersionOf(event.object) ?? "";
              reason = "relist";
              if (!flush(batch) || !flush([{ type: "init-done", resourceVersion }])) return undefined;
              batch = [];
            } else if (event.type !== "DELETED") batch.push({ type: "init-object", object: event.object });
            continue;
          }
          const rv = resourceVersionOf(event.object);
          if (rv) resourceVersion = rv;
          if (event.type === "BOOKMARK") batch.push({ type: "bookmark", resourceVersion: resourceVersion as string });
          else if (event.type === "DELETED") batch.push({ type: "delete", object: event.object });
          else batch.push({ type: "apply", object: event.object });
        }
        flush(batch);
        return undefined;
      };
      try {
        await stream.run(onRead);
        if (signal?.aborted) return;
        if (listing) throw new ApiError({ kind: "Network", status: 0, message: "streaming list ended early" });
        if (stream.events === 0 && stream.ageMs < shortWatchMs) {
          // Re-watching at once would spin against a server or proxy that closes every watch straight away.
          const message = `${source.description}: the watch closed at once without an event`;
          throw new ApiError({ kind: "Network", status: 0, message });
        }
      } catch (err) {
        if (listing && !signal?.aborted && streaming === "auto") {
          // As client-go's reflector: a failed streaming list, refused or not, falls back to one paginated list at
          // once (progress beats retrying what failed, and a list's error says more: a streaming list whose objects
          // fail conversion only times out waiting for its bookmark), and the next relist streams again. A server
          // whose WatchList feature is off refuses at validation (422 "sendInitialEvents is forbidden for watch unless
          // the WatchList feature gate is enabled"), one cheap request per relist; one restarted with the feature on
          // is streamed from at the next relist.
          listOnce = true;
          continue;
        }
        throw err;
      } finally {
        stream.close();
      }
    } catch (err) {
      if (signal?.aborted) return;
      const error = toApiError(err, source.description);
      if (error instanceof IdleTimeout && resourceVersion !== undefined) {
        // A silent watch reopened: nothing is wrong that a re-watch from the same version does not cure.
        continue;
      }
      if (error.kind === "Gone") resourceVersion = undefined;
      const wait = backoff.next();
      // Our resourceVersion was compacted away (or a restarted server's watch cache does not reach back to it): a
      // relist cures that, so a Gone relists at once, unless the failure before it was a Gone too (since the backoff
      // last forgave): then the relist did not cure it, and a server answering every watch with Gone must not make us
      // spin. So the Gone that is a restarted server's first answer after an outage relists at once, however long
      // the outage's backoff grew. A server that says when to come back (APF's 429, a 503 or 500 with Retry-After)
      // is not asked again sooner.
      const goneAgain = previousFailure === "Gone" && backoff.failures > 1;
      previousFailure = error.kind;
      const notBeforeMs = retryAfterMs(error);
      const retryInMs = Math.max(error.kind === "Gone" && !goneAgain ? 0 : wait, notBeforeMs);
      try {
        if (!emit([{ type: "error", error, retryInMs }])) await ready();
        if (retryInMs <= 0) continue;
        const recovery = source.recovery;
        await (recovery ? recovery.wait(error, retryInMs, { signal, notBeforeMs }) : delay(retryInMs, signal));
      } catch (waitErr) {
        if (signal?.aborted) return;
        throw waitErr;
      }
    }
  }
}

/** Settles like `promise`, or rejects as soon as `signal` aborts: a source that ignores its signal cannot hold us. */
function abortable<V>(promise: Promise<V>, signal: AbortSignal | undefined): Promise<V> {
  if (!signal) return promise;
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new ApiError({ kind: "Aborted", status: 0, message: "aborted", cause: signal.reason }));
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  promise.catch(() => {}); // a rejection after the abort has no one left to tell
  return Promise.race([promise, aborted]).finally(() => signal.removeEventListener("abort", onAbort));
}

/**
 * A watch of a source without {@link ListWatch.watchPush}, read from its async iterable and pushed: batches from
 * {@link ListWatch.watchBatches}, else events one at a time. Closing calls the iterator's `return()` at once, even while
 * a `next()` is pending, and does not wait on it: a source that does not answer cannot hold us.
 */
function pumped<T extends KubeObject>(source: ListWatch<T>, opts: WatchOptions, sink: WatchSink<T>): WatchSubscription {
  let paused = false;
  let closed = false;
  let wake: (() => void) | undefined;
  const woken = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const batches = source.watchBatches;
  const iterator = batches
    ? batches(opts)[Symbol.asyncIterator]()
    : (source.watch(opts)[Symbol.asyncIterator]() as AsyncIterator<WatchEvent<T> | readonly WatchEvent<T>[]>);
  void (async () => {
    try {
      for (;;) {
        while (paused && !closed) await new Promise<void>((resolve) => (wake = resolve));
        if (closed) return;
        const next = await iterator.next();
        if (closed) return;
        if (next.done) return sink.end();
        const value = next.value;
        if (batches) {
          if ((value as readonly WatchEvent<T>[]).length > 0) sink.events([...(value as readonly WatchEvent<T>[])]);
        } else sink.events([value as WatchEvent<T>]);
      }
    } catch (err) {
      if (!closed) sink.error(toApiError(err, source.description));
    }
  })();
  return {
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      woken();
    },
    close: () => {
      if (closed) return;
      closed = true;
      woken();
      try {
        void Promise.resolve(iterator.return?.()).catch(() => {});
      } catch {
        // A source whose return() throws has ended all the same.
      }
    },
  };
}

/** The watch of a silent stream was given up after the idle timeout. */
class IdleTimeout extends ApiError {}

/**
 * One watch request with an idle timeout: a half-open connection never ends by itself, so a watch that sends nothing
 * for `idleMs` while it is read is given up. It also gives up at once when the parent signal aborts, whether or not
 * the source honours its signal, and closing it never waits on a source that does not answer.
 */
class WatchStream<T extends KubeObject> {
  readonly #controller = new AbortController();
  readonly #idleMs: number;
  readonly #parent: AbortSignal | undefined;
  readonly #onParentAbort = () => this.#controller.abort(this.#parent?.reason);
  readonly #source: ListWatch<T>;
  readonly #opts: WatchOptions;
  readonly #opened = Date.now();
  #subscription: WatchSubscription | undefined;
  /** The idle timer: armed once, and then left running across reads rather than set and cleared per read. */
  #timer: NodeJS.Timeout | undefined;
  /** When the stream last showed life, or was last resumed (`performance.now()`). */
  #lastRead = 0;
  /** Paused for the consumer: the idle clock stands still meanwhile. */
  #paused = false;
  #timedOut = false;
  #closed = false;
  #settle: ((error: unknown) => void) | undefined;
  /** How many events it has delivered. */
  events = 0;

  constructor(source: ListWatch<T>, opts: WatchOptions, idleMs: number, parent: AbortSignal | undefined) {
    this.#idleMs = idleMs;
    this.#parent = parent;
    this.#source = source;
    this.#opts = opts;
    if (parent?.aborted) this.#controller.abort(parent.reason);
    else parent?.addEventListener("abort", this.#onParentAbort, { once: true });
    this.#controller.signal.addEventListener("abort", this.#onStop, { once: true });
  }

  /** Milliseconds since it was opened. */
  get ageMs(): number {
    return Date.now() - this.#opened;
  }

  /**
   * Opens the watch and hands each read's events to `onRead`, synchronously; resolves when the server ends the
   * watch, rejects with what broke it, with the error `onRead` returns, or at once when it is stopped (a Timeout
   * when it stayed silent too long).
   */
  run(onRead: (events: readonly WatchEvent<T>[]) => ApiError | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle = (error: unknown) => {
        if (this.#settle !== settle) return;
        this.#settle = undefined;
        this.#release();
        this.#subscription?.close();
        if (error === undefined) resolve();
        else reject(error);
      };
      this.#settle = settle;
      if (this.#controller.signal.aborted) return settle(this.#stopError());
      this.#lastRead = performance.now();
      this.#arm(this.#idleMs);
      const sink: WatchSink<T> = {
        events: (batch) => {
          if (this.#settle !== settle) return;
          this.events += batch.length;
          this.#lastRead = performance.now();
          const failure = onRead(batch);
          if (failure) settle(failure);
        },
        end: () => settle(undefined),
        error: (err) => settle(this.#controller.signal.aborted ? this.#stopError(err) : err),
      };
      const watchOpts = { ...this.#opts, signal: this.#controller.signal };
      try {
        const push = this.#source.watchPush;
        this.#subscription = push ? push(watchOpts, sink) : pumped(this.#source, watchOpts, sink);
        if (this.#paused) this.#subscription.pause();
      } catch (err) {
        settle(err);
      }
    });
  }

  /** Reads nothing more until `ready` resolves: the consumer is behind. A stream already paused stays so. */
  pauseUntil(ready: Promise<void>): void {
    if (this.#paused || this.#closed) return;
    this.#paused = true;
    this.#subscription?.pause();
    const resume = () => {
      if (this.#closed) return;
      this.#paused = false;
      this.#lastRead = performance.now();
      this.#subscription?.resume();
    };
    ready.then(resume, resume);
  }

  #release(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#parent?.removeEventListener("abort", this.#onParentAbort);
  }

  readonly #onStop = () => this.#settle?.(this.#stopError());

  readonly #onTimer = () => {
    this.#timer = undefined;
    if (this.#settle === undefined) return;
    // Paused for the consumer: a slow consumer does not make a busy watch look idle.
    if (this.#paused) return this.#arm(this.#idleMs);
    const waited = performance.now() - this.#lastRead;
    if (waited < this.#idleMs) return this.#arm(this.#idleMs - waited);
    this.#timedOut = true;
    this.#controller.abort();
  };

  #arm(ms: number): void {
    this.#timer = setTimeout(this.#onTimer, ms);
    this.#timer.unref?.();
  }

  #stopError(cause?: unknown): ApiError {
    if (this.#timedOut) {
      return new IdleTimeout({ kind: "Timeout", status: 0, message: `watch idle for ${this.#idleMs} ms`, cause });
    }
    return new ApiError({ kind: "Aborted", status: 0, message: "watch aborted", cause });
  }

  /** Ends the watch request; safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.#controller.abort();
    this.#subscription?.close();
  }
}
