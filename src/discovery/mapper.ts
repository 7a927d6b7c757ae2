/** The REST mapper: kinds, resources and typed names mapped over live, cached discovery. */
import { ApiError } from "../http/errors.js";
import { type DiscoveryClient, discoveryNow } from "./client.js";
import { NoMatchError } from "./errors.js";
import { type Resolution, SnapshotMapper } from "./snapshot-mapper.js";
import type { ApiResource, DiscoverySnapshot, KindRef, ResourceRef } from "./types.js";

/** Tuning of a {@link RestMapper}. */
export interface RestMapperOptions {
  /**
   * Least time between two discovery refreshes caused by misses; a miss sooner waits for it. Bounds the load a loop
   * over an unknown name puts on the server. Default 200 ms; 0: no bound.
   */
  readonly missRefreshIntervalMs?: number | undefined;
}

/** Per-call options. */
export interface MapOptions {
  readonly signal?: AbortSignal | undefined;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new ApiError({ kind: "Aborted", status: 0, message: "mapping was aborted", cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Maps over a {@link DiscoveryClient}'s cached snapshot. A miss on a snapshot fetched before the call began refreshes
 * discovery once and tries again, as client-go's DeferredDiscoveryRESTMapper does, so a CRD created after the cache
 * was filled is found; a second miss is final, with the closest names in {@link NoMatchError.suggestions}.
 */
export class RestMapper {
  readonly discovery: DiscoveryClient;
  readonly #interval: number;
  #nextMissRefresh = 0;
  #mapper: SnapshotMapper | undefined;

  constructor(discovery: DiscoveryClient, options: RestMapperOptions = {}) {
    this.discovery = discovery;
    this.#interval = options.missRefreshIntervalMs ?? 200;
  }

  /** What a user typed (`po`, `deploy`, `all`, `myresources.v1.example.com`, ...) resolved to its resources. */
  resolve(text: string, options: MapOptions = {}): Promise<Resolution> {
    return this.#map((m) => m.resolve(text), options.signal);
  }

  /** One resource from what a user typed; categories are not expanded. */
  resolveResource(text: string, options: MapOptions = {}): Promise<ApiResource> {
    return this.#map((m) => m.resolveResource(text), options.signal);
  }

  /** The mapping (kind, scope, verbs, ...) of a resource given by group, name and optional version. */
  kindFor(ref: ResourceRef, options: MapOptions = {}): Promise<ApiResource> {
    return this.#map((m) => m.kindFor(ref), options.signal);
  }

  /** The mapping (resource, scope, verbs, ...) of a kind given by group and optional version. */
  resourceFor(ref: KindRef, options: MapOptions = {}): Promise<ApiResource> {
    return this.#map((m) => m.resourceFor(ref), options.signal);
  }

  /** The version to use for a group when none is given. */
  preferredVersion(group: string, options: MapOptions = {}): Promise<string> {
    return this.#map((m) => m.preferredVersion(group), options.signal);
  }

  /** A synchronous mapper over the current snapshot, fetching it first if there is none. */
  async mapper(options: MapOptions = {}): Promise<SnapshotMapper> {
    return this.#mapperFor(await this.discovery.snapshot(options));
  }

  #mapperFor(snapshot: DiscoverySnapshot): SnapshotMapper {
    if (this.#mapper?.result !== snapshot) this.#mapper = new SnapshotMapper(snapshot);
    return this.#mapper;
  }

  async #map<T>(operation: (mapper: SnapshotMapper) => T, signal: AbortSignal | undefined): Promise<T> {
    const since = discoveryNow();
    const snapshot = await this.discovery.snapshot(signal ? { signal } : {});
    try {
      return operation(this.#mapperFor(snapshot));
    } catch (err) {
      // A snapshot fetched during this call is as fresh as a refresh would be.
      if (!(err instanceof NoMatchError) || snapshot.fetchedAt > since) throw err;
    }
    // Only a miss that needs a fetch of its own waits: one that started after this call began will do.
    if ((this.discovery.lastFetchStartedAt ?? 0) <= since) {
      const wait = this.#nextMissRefresh - discoveryNow();
      if (wait > 0) await sleep(wait, signal);
      this.#nextMissRefresh = discoveryNow() + this.#interval;
    }
    const fresh = await this.discovery.refresh({ since, signal });
    return operation(this.#mapperFor(fresh));
  }
}
