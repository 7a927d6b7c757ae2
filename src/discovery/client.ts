/** The discovery client: one cached view of what a cluster serves, shared by everyone who asks. */
import { ApiError } from "../http/errors.js";
import type { Transport } from "../http/transport.js";
import { DiscoveryDiskCache, type DiscoveryDiskCacheOptions } from "./disk-cache.js";
import { type DiscoveryFetch, fetchDiscoveryRevalidating } from "./fetch.js";
import type { DiscoverySnapshot } from "./types.js";

/** How a {@link DiscoveryClient} discovers and caches. */
export interface DiscoveryClientOptions {
  /** A snapshot older than this is fetched anew by the next {@link DiscoveryClient.snapshot}; default: kept until refreshed. */
  readonly ttlMs?: number | undefined;
  /** Use the legacy per-group-version endpoints even where aggregated discovery is served. */
  readonly legacy?: boolean | undefined;
  /** Most legacy group-version requests in flight at once; default 8. */
  readonly concurrency?: number | undefined;
  /**
   * Keep discovery on disk too, as kubectl does: the first {@link DiscoveryClient.snapshot} of a process reads it from
   * there while it is younger than the disk TTL, and every fetch writes it back. Fetches revalidate what the disk holds
   * by its entity tags, so an unchanged API surface costs two `304 Not Modified`s. Not used with `legacy`.
   */
  readonly diskCache?: DiscoveryDiskCacheOptions | undefined;
}

/** Options of {@link DiscoveryClient.refresh}. */
export interface RefreshOptions {
  /** Stops this caller's wait; the shared fetch goes on for the others. */
  readonly signal?: AbortSignal | undefined;
  /**
   * The result must come from a fetch that started after this time (ms since the epoch, high resolution); default: the call.
   * A fetch that started later is shared rather than repeated.
   */
  readonly since?: number | undefined;
}

/** The clock of {@link DiscoverySnapshot.fetchedAt}: epoch milliseconds, monotonic, with sub-millisecond precision. */
export function discoveryNow(): number {
  return performance.timeOrigin + performance.now();
}

const ignore = () => {};

/** Waits for a shared promise until it settles or this caller's signal fires. */
function wait<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () =>
      reject(new ApiError({ kind: "Aborted", status: 0, message: "discovery was aborted", cause: signal.reason }));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    void promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Discovers a cluster's groups, versions and resources, and caches the result in memory. At most one fetch runs at a
 * time: concurrent callers share it, and refreshes asked for while one runs share the single fetch queued after it.
 */
export class DiscoveryClient {
  readonly #transport: Transport;
  readonly #options: DiscoveryClientOptions;
  readonly #disk: DiscoveryDiskCache | undefined;
  #held: DiscoveryFetch["roots"];
  #current: DiscoverySnapshot | undefined;
  #inflight: { readonly startedAt: number; readonly promise: Promise<DiscoverySnapshot> } | undefined;
  #queued: Promise<DiscoverySnapshot> | undefined;
  #generation = 0;

  constructor(transport: Transport, options: DiscoveryClientOptions = {}) {
    this.#transport = transport;
    this.#options = options;
    this.#disk = options.diskCache && !options.legacy ? new DiscoveryDiskCache(options.diskCache) : undefined;
  }

  /** The last snapshot fetched, without fetching; undefined before the first fetch completes. */
  get cached(): DiscoverySnapshot | undefined {
    return this.#current;
  }

  /** When the latest fetch started (running or done), in ms since the epoch; undefined before the first. */
  get lastFetchStartedAt(): number | undefined {
    return this.#inflight?.startedAt ?? this.#current?.fetchedAt;
  }

  /**
   * The cached snapshot, fetched first when there is none yet or it is older than the TTL. The first one may come from
   * the disk cache, and is then as old as the file says ({@link DiscoverySnapshot.fetchedAt}).
   */
  snapshot(options: { readonly signal?: AbortSignal | undefined } = {}): Promise<DiscoverySnapshot> {
    const current = this.#current;
    if (current && !this.#expired(current)) return Promise.resolve(current);
    return wait(this.#inflight?.promise ?? this.#start(current === undefined), options.signal);
  }

  /** A snapshot fetched after the call (or after `since`): shares a fetch that started late enough, else starts one. */
  refresh(options: RefreshOptions = {}): Promise<DiscoverySnapshot> {
    const since = options.since ?? discoveryNow();
    const current = this.#current;
    if (current && current.fetchedAt > since) return Promise.resolve(current);
    const inflight = this.#inflight;
    if (!inflight) return wait(this.#start(false), options.signal);
    if (inflight.startedAt > since) return wait(inflight.promise, options.signal);
    // The running fetch may have read the server before the caller's change: queue one fetch after it, for all.
    this.#queued ??= inflight.promise.then(ignore, ignore).then(() => {
      this.#queued = undefined;
      return this.#inflight?.promise ?? this.#start(false);
    });
    return wait(this.#queued, options.signal);
  }

  #expired(snapshot: DiscoverySnapshot): boolean {
    const ttl = this.#options.ttlMs;
    return ttl !== undefined && discoveryNow() - snapshot.fetchedAt >= ttl;
  }

  /** Fetches, or with `fromDisk` reads the disk cache while it is fresh; `fetchedAt` is the file's then. */
  #start(fromDisk: boolean): Promise<DiscoverySnapshot> {
    const startedAt = discoveryNow();
    const promise: Promise<DiscoverySnapshot> = this.#discover(startedAt, fromDisk)
      .then(({ result, fetchedAt }) => {
        const snapshot: DiscoverySnapshot = { ...result, fetchedAt, generation: ++this.#generation };
        this.#current = snapshot;
        return snapshot;
      })
      .finally(() => {
        if (this.#inflight?.promise === promise) this.#inflight = undefined;
      });
    // Every caller gets the failure through its own wait; the shared promise itself must not count as unhandled.
    promise.catch(ignore);
    this.#inflight = { startedAt, promise };
    return promise;
  }

  async #discover(startedAt: number, fromDisk: boolean): Promise<DiscoveryFetch & { fetchedAt: number }> {
    const disk = this.#disk;
    // The file is read once per client (or when a snapshot may come from it): after that, the documents last fetched
    // are held here, and their tags revalidate them.
    if (disk && (fromDisk || !this.#held)) {
      const cached = await disk.read();
      if (cached && fromDisk && disk.fresh(cached.fetchedAt, startedAt)) {
        this.#held = cached.roots;
        return cached;
      }
      this.#held ??= cached?.roots;
    }
    const fetched = await fetchDiscoveryRevalidating(
      this.#transport,
      {
        ...(this.#options.legacy ? { legacy: true } : {}),
        ...(this.#options.concurrency !== undefined ? { concurrency: this.#options.concurrency } : {}),
      },
      this.#held,
    );
    if (disk) this.#held = fetched.roots;
    // A write that fails is a miss next time, never this discovery's failure; awaited, so that a command that exits
    // right after has written its file.
    if (disk) await disk.write(fetched, startedAt);
    return { ...fetched, fetchedAt: startedAt };
  }
}
