/**
 * One cluster, connected: its config, transport, dynamic client, discovery, REST mapper and shared informers, made
 * once and shared. The entry point most programs need.
 */
import { SharedInformerFactory } from "./cache/factory.js";
import type { InformerOptions } from "./cache/informer.js";
import type { ResourceType } from "./client/gvr.js";
import type { AppliedObject, ApplyManifestOptions } from "./client/manifest.js";
import { DynamicClient, type ResourceClient } from "./client/resource.js";
import { type LoadConfigOptions, loadConfig } from "./config/index.js";
import type { ClusterConfig } from "./config/types.js";
import { DiscoveryClient, type DiscoveryClientOptions } from "./discovery/client.js";
import { RestMapper } from "./discovery/mapper.js";
import type { ApiResource } from "./discovery/types.js";
import { Transport, type TransportOptions } from "./http/transport.js";
import type { KubeObject } from "./object/types.js";
import { type WatchAll, type WatchAllOptions, watchAll } from "./watchall/engine.js";

/** Options of {@link connect}: where the cluster is, and how to talk to it. */
export interface ConnectOptions extends LoadConfigOptions, TransportOptions {
  /** Use this config instead of finding one. */
  readonly config?: ClusterConfig | undefined;
  /** Defaults for the informers of {@link Cluster.informers}. */
  readonly informers?: InformerOptions<KubeObject> | undefined;
  /** How {@link Cluster.discovery} discovers and caches (on disk too, with `diskCache`). */
  readonly discovery?: DiscoveryClientOptions | undefined;
}

/** A connected cluster. Close it with {@link Cluster.close}. */
export class Cluster {
  /** Where the cluster is and how to authenticate, as loaded or given. */
  readonly config: ClusterConfig;
  /** The one connection pool, rate limit and retry policy that everything below shares. */
  readonly transport: Transport;
  /** The dynamic client, for any resource by GroupVersionResource. */
  readonly client: DynamicClient;
  /** What the cluster serves, cached. */
  readonly discovery: DiscoveryClient;
  /** Kinds to resources and back, names as kubectl resolves them. */
  readonly mapper: RestMapper;
  /** Informers shared by everyone who asks for the same resource and selection. */
  readonly informers: SharedInformerFactory;

  constructor(options: ConnectOptions = {}) {
    this.config = options.config ?? loadConfig(options);
    this.transport = new Transport(this.config, options);
    this.client = new DynamicClient(this.transport);
    this.discovery = new DiscoveryClient(this.transport, options.discovery);
    this.mapper = new RestMapper(this.discovery);
    this.informers = new SharedInformerFactory(this.client, options.informers);
  }

  /** A client for a resource (all namespaces); `.namespace(ns)` on it for one. An `ApiResource` gives it its scope. */
  resource<T extends KubeObject = KubeObject>(resource: ResourceType): ResourceClient<T> {
    return this.client.resource<T>(resource);
  }

  /**
   * Resolves what a user types (`deploy`, `widgets.example.com`, `Widget`) as kubectl does, refreshing discovery once
   * on a miss, and returns a client for it (which knows the resource's scope) with what discovery knows of it.
   */
  async lookup<T extends KubeObject = KubeObject>(
    text: string,
    signal?: AbortSignal,
  ): Promise<{ client: ResourceClient<T>; resource: ApiResource }> {
    const resource = await this.mapper.resolveResource(text, { signal });
    return { client: this.client.resource<T>(resource), resource };
  }

  /**
   * Server-side applies a multi-document YAML manifest (or objects), CRDs first, mapping kinds through this cluster's
   * REST mapper; namespaced objects without a namespace go to `options.namespace`, else the kubeconfig context's.
   */
  async applyManifest(
    manifest: string | readonly KubeObject[],
    options: ApplyManifestOptions,
  ): Promise<AppliedObject[]> {
    // Loaded here, with its YAML parser, rather than by everything that connects (every command line run).
    const { applyManifest } = await import("./client/manifest.js");
    return applyManifest(this.client, this.mapper, manifest, {
      ...options,
      namespace: options.namespace ?? this.config.namespace,
    });
  }

  /** Starts watching every kind (see {@link WatchAllOptions}); iterate the result for the merged stream. */
  watchAll(options: WatchAllOptions & { signal?: AbortSignal | undefined } = {}): WatchAll {
    return watchAll(this, options);
  }

  /** Stops every informer and closes all connections. */
  async close(): Promise<void> {
    await this.informers.shutdown();
    await this.transport.close();
  }
}

/** Connects to the cluster of `KUBECONFIG`, `~/.kube/config` or the pod (or as `options` say). */
export function connect(options: ConnectOptions = {}): Cluster {
  return new Cluster(options);
}
