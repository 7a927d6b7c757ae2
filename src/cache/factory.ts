/**
 * Shared informers: one informer per (resource, namespace, selectors, metadata-only), however many consumers ask.
 * Each consumer holds a reference; the informer starts with the first and stops with the last.
 */
import type { GroupVersionResource } from "../client/gvr.js";
import type { DynamicClient } from "../client/resource.js";
import type { KubeObject } from "../object/types.js";
import { Informer, type InformerOptions } from "./informer.js";
import { listWatchOf, type Selection } from "./watcher.js";

/** Which informer a consumer wants. */
export interface InformerRequest extends Selection {
  readonly gvr: GroupVersionResource;
  /** One namespace; absent: all namespaces (or a cluster-scoped kind). */
  readonly namespace?: string | undefined;
}

/** A consumer's hold on a shared informer; {@link release} it when done. */
export interface InformerLease {
  readonly informer: Informer<KubeObject>;
  /** Gives the hold back; the informer stops when no one holds it. Safe to call twice. */
  release(): Promise<void>;
}

/** The identity of an informer: requests with equal keys share one. */
export function informerKey(req: InformerRequest): string {
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
  readonly #entries = new Map<string, { informer: Informer<KubeObject>; holders: number }>();

  constructor(client: DynamicClient, options: InformerOptions<KubeObject> = {}) {
    this.#client = client;
    this.#options = options;
  }

  /** Takes a hold on the informer for `req`, starting it if no one else holds it. */
  acquire(req: InformerRequest): InformerLease {
    const key = informerKey(req);
    let entry = this.#entries.get(key);
    if (!entry) {
      const base = this.#client.resource(req.gvr);
      const client = req.namespace ? base.namespace(req.namespace) : base;
      const informer = new Informer(listWatchOf(client, req), this.#options);
      entry = { informer, holders: 0 };
      this.#entries.set(key, entry);
      informer.start();
    }
    entry.holders++;
    const held = entry;
    let released = false;
    return {
      informer: held.informer,
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

  /** The informers currently held. */
  informers(): Informer<KubeObject>[] {
    return [...this.#entries.values()].map((e) => e.informer);
  }

  /**
   * Resolves once every informer currently held has synced; rejects as {@link Informer.synced} does, also with an
   * `InformerStoppedError` when one stops first (its last holder released it, or {@link shutdown}).
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
