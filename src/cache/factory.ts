/**
 * Shared informers: one informer per (resource, namespace, selectors, metadata-only), however many consumers ask.
 * Each consumer holds a reference; the informer starts with the first and stops with the last.
 */
import type { GroupVersionResource } from "../client/gvr.js";
import type { DynamicClient } from "../client/resource.js";
import type { KubeObject } from "../object/types.js";
import { Informer, type InformerOptions } from "./informer.js";
import type { IndexFunc } from "./store.js";
import { listWatchOf, type Selection } from "./watcher.js";

/** Which informer a consumer wants, and the indexes it needs on its store. */
export interface InformerRequest<T extends KubeObject = KubeObject> extends Selection {
  readonly gvr: GroupVersionResource;
  /** One namespace; absent: all namespaces (or a cluster-scoped kind). */
  readonly namespace?: string | undefined;
  /**
   * Indexes this consumer looks objects up by, added to the shared informer's store (and built at once over what it
   * already holds); they stay for the informer's life. Consumers may ask for the same name with the same function; a
   * different function under a name the store has already is refused.
   */
  readonly indexers?: Readonly<Record<string, IndexFunc<T>>> | undefined;
}

/** A consumer's hold on a shared informer; {@link InformerLease.release} it when done. */
export interface InformerLease<T extends KubeObject = KubeObject> {
  readonly informer: Informer<T>;
  /** Gives the hold back; the informer stops when no one holds it. Safe to call twice. */
  release(): Promise<void>;
}

/** A shared informer and what it lists and watches. */
export interface HeldInformer {
  /** The request that made it: its resource, namespace and selectors. */
  readonly request: Omit<InformerRequest, "indexers">;
  /** The informer, shared: read it, never stop it. */
  readonly informer: Informer<KubeObject>;
}

/** The identity of an informer: requests with equal keys share one. */
export function informerKey(req: Omit<InformerRequest, "indexers">): string {
  const { group, version, resource } = req.gvr;
  return JSON.stringify([
    group,
    version,
    resource,
    req.namespace ?? "",
    req.labelSelector ?? "",
    req.fieldSelector ?? "",
    Boolean(req.metadataOnly),
  ]);
}

/** Hands out shared informers of one cluster. */
export class SharedInformerFactory {
  readonly #client: DynamicClient;
  readonly #options: InformerOptions<KubeObject>;
  readonly #entries = new Map<
    string,
    { request: Omit<InformerRequest, "indexers">; informer: Informer<KubeObject>; holders: number }
  >();

  constructor(client: DynamicClient, options: InformerOptions<KubeObject> = {}) {
    this.#client = client;
    this.#options = options;
  }

  /**
   * Takes a hold on the informer for `req`, starting it if no one else holds it. `T` is the caller's word for what the
   * objects are (`PartialObjectMetadata` with `metadataOnly`), as with `DynamicClient.resource<T>()`; every consumer of
   * one informer shares its objects, so none may change them.
   */
  acquire<T extends KubeObject = KubeObject>(req: InformerRequest<T>): InformerLease<T> {
    const key = informerKey(req);
    const existing = this.#entries.get(key);
    const entry = existing ?? { request: requestOf(req), informer: this.#newInformer(req), holders: 0 };
    // Before the hold is taken: a refused request leaves nothing behind (nor a started informer).
    addIndexers(entry.informer, req.indexers ?? {});
    if (!existing) {
      this.#entries.set(key, entry);
      entry.informer.start();
    }
    entry.holders++;
    const held = entry;
    let released = false;
    return {
      informer: held.informer as unknown as Informer<T>,
      release: async () => {
        if (released) return;
        released = true;
        held.holders--;
        if (held.holders === 0 && this.#entries.get(key) === held) {
          this.#entries.delete(key);
          await held.informer.stop();
        }
      },
    };
  }

  #newInformer(req: Omit<InformerRequest, "indexers">): Informer<KubeObject> {
    const base = this.#client.resource(req.gvr);
    const client = req.namespace ? base.namespace(req.namespace) : base;
    return new Informer(listWatchOf(client, req), this.#options);
  }

  /** The informers currently held. */
  informers(): Informer<KubeObject>[] {
    return [...this.#entries.values()].map((e) => e.informer);
  }

  /** The informers currently held, each with the request that made it (its resource, namespace and selectors). */
  held(): HeldInformer[] {
    return [...this.#entries.values()].map(({ request, informer }) => ({ request, informer }));
  }

  /**
   * Resolves once every informer currently held has synced; rejects as {@link Informer.synced} does, also with an
   * `InformerStoppedError` when one stops first (its last holder released it, or {@link SharedInformerFactory.shutdown}).
   */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all(this.informers().map((i) => i.synced(signal)));
  }

  /** Stops every informer, whoever holds it. */
  async shutdown(): Promise<void> {
    const all = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(all.map((e) => e.informer.stop()));
  }
}

/** What identifies an informer in `req`, without the consumer's indexers. */
function requestOf<T extends KubeObject>(req: InformerRequest<T>): Omit<InformerRequest, "indexers"> {
  const { indexers: _, ...request } = req;
  return request;
}

/**
 * Adds the indexes `informer`'s store lacks; one it has already under the same function is shared. Every name is
 * checked before any is added, so a conflict adds none.
 */
function addIndexers<T extends KubeObject>(
  informer: Informer<KubeObject>,
  indexers: Readonly<Record<string, IndexFunc<T>>>,
): void {
  const store = informer.store;
  const wanted = Object.entries(indexers) as [string, IndexFunc<KubeObject>][];
  for (const [name, fn] of wanted) {
    const present = store.indexer(name);
    if (present !== undefined && present !== fn) {
      throw new Error(
        `the shared informer of ${informer.source.description} has an index "${name}" already, with another function: ` +
          "give this index another name, or share the one function between the consumers",
      );
    }
  }
  for (const [name, fn] of wanted) if (store.indexer(name) === undefined) store.addIndexer(name, fn);
}
