/**
 * Many watches on one transport, for the fault tests that break the connection under them: informers of three kinds
 * and a watch-all engine of every kind (built-in ones too, some thirty), all in one namespace and all through one
 * transport (on HTTP/2, one connection carries every one of them). A round of changes touches the three kinds; at the
 * end, each informer's store and handlers, and the view the engine's stream builds, must equal the server's lists.
 */
import assert from "node:assert/strict";
import { Informer } from "../../src/cache/informer.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { GroupVersionResource } from "../../src/client/index.js";
import type { ApiError } from "../../src/http/errors.js";
import type { TransportOptions } from "../../src/http/transport.js";
import type { KubeObject } from "../../src/object/types.js";
import type { WatchAllOptions } from "../../src/watchall/engine.js";
import { clientFor } from "./client.js";
import { assertConverged, differences, HandlerLog, serverVersions, type Version } from "./convergence.js";
import { type cleanups, createNamespace, type FaultCluster } from "./faults.js";
import { uniqueName, waitFor } from "./wait.js";
import { EventLog, engineCluster, isObjectEvent } from "./watchall.js";

/** The kinds watched by informers of their own (and by the engine too). */
const kinds: readonly { readonly gvr: GroupVersionResource; readonly kind: string }[] = [
  { gvr: { group: "", version: "v1", resource: "configmaps" }, kind: "ConfigMap" },
  { gvr: { group: "", version: "v1", resource: "secrets" }, kind: "Secret" },
  { gvr: { group: "", version: "v1", resource: "serviceaccounts" }, kind: "ServiceAccount" },
];

/** What {@link sharedWatches} is told. */
export interface SharedWatchesOptions {
  readonly env: FaultCluster;
  /** The kubeconfig the watches use (one through a proxy, say). */
  readonly kubeconfig: string;
  readonly cleanup: ReturnType<typeof cleanups>;
  readonly transport?: TransportOptions;
  /** The informers' (and the engine's informers') idle timeout per watch stream; default the watcher's. */
  readonly idleTimeoutMs?: number;
  /** Objects of each kind made before the watches start. */
  readonly objects?: number;
}

/**
 * Starts, on one transport, an informer for each of ConfigMaps, Secrets and ServiceAccounts of a fresh namespace and a
 * watch-all engine on that namespace, and waits until all have synced.
 */
export async function sharedWatches(opts: SharedWatchesOptions) {
  const { env, cleanup } = opts;
  const ns = uniqueName("shared");
  await createNamespace(env.admin.client, ns);
  const servers = kinds.map(({ gvr }) => env.admin.client.resource(gvr).namespace(ns));
  const object = (kind: string, name: string): KubeObject => ({ apiVersion: "v1", kind, metadata: { name } });
  for (let i = 0; i < (opts.objects ?? 4); i++)
    for (const [k, { kind }] of kinds.entries()) await servers[k]?.create(object(kind, `o-${i}`));

  const conn = clientFor(opts.kubeconfig, opts.transport);
  cleanup.defer(() => conn.transport.close());
  const informerOptions = {
    backoff: { initialMs: 100, maxMs: 500 },
    logger: "none" as const,
    ...(opts.idleTimeoutMs ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
  };
  const errors: ApiError[] = [];
  const informers = kinds.map(({ gvr }) => {
    const informer = new Informer<KubeObject>(listWatchOf(conn.client.resource(gvr).namespace(ns)), informerOptions);
    const log = new HandlerLog(gvr.resource);
    informer.addHandlers(log.handlers());
    const own: ApiError[] = [];
    informer.onError((err) => {
      own.push(err);
      errors.push(err);
    });
    informer.start();
    cleanup.defer(() => informer.stop());
    return { informer, log, errors: own };
  });
  const engineOptions: WatchAllOptions = {
    allResources: true,
    include: { namespaces: [ns] },
    informer: informerOptions,
    logger: "none",
  };
  const engine = EventLog.start(engineCluster(conn.transport), engineOptions);
  cleanup.defer(() => engine.stop());
  const synced = AbortSignal.timeout(30_000);
  for (const { informer } of informers) await informer.synced(synced);
  await Promise.race([
    engine.engine.synced(),
    engine.ended.then(() => {
      throw new Error(`the engine ended before it synced: ${String(engine.error)}`);
    }),
  ]);

  /** The view of `gvr` in the namespace that the engine's events build, added, updated and deleted in turn. */
  const engineView = (gvr: GroupVersionResource): Map<string, Version> => {
    const view = new Map<string, Version>();
    for (const e of engine.events) {
      if (!isObjectEvent(e) || e.namespace !== ns || e.group !== gvr.group || e.resource !== gvr.resource) continue;
      const key = `${ns}/${e.name}`;
      if (e.type === "DELETED") view.delete(key);
      else view.set(key, { uid: String(e.object.metadata.uid ?? ""), resourceVersion: e.resourceVersion });
    }
    return view;
  };

  return {
    ns,
    transport: conn.transport,
    /** The watches' client, for requests that go on the same connections. */
    client: conn.client,
    informers,
    engine,
    errors,
    /** Watch streams open once all are synced: one per informer, one per kind the engine watches (and its own). */
    get streams(): number {
      return informers.length + engine.engine.status().synced;
    },
    /** Of every kind: patches `o-<patched>`, deletes `o-<doomed>` and creates `o-<round>`. */
    async changes(round: string, patched: number, doomed: number): Promise<void> {
      for (const [k, server] of servers.entries()) {
        const kind = kinds[k]?.kind ?? "";
        await server.patch(`o-${patched}`, { metadata: { labels: { round } } }, "merge");
        await server.delete(`o-${doomed}`);
        await server.create(object(kind, `o-${round}`));
      }
    },
    /** Whether every informer and the engine have seen the object `o-<round>` of every kind. */
    seen(round: string): boolean {
      return kinds.every(
        ({ gvr }, k) =>
          informers[k]?.informer.store.get(`${ns}/o-${round}`) !== undefined && engineView(gvr).has(`${ns}/o-${round}`),
      );
    },
    /** Waits until every informer and the engine hold what the server holds, and asserts every handler agrees. */
    async assertConverged(timeoutMs = 30_000): Promise<void> {
      for (const [k, { informer, log }] of informers.entries()) {
        const server = servers[k];
        if (server) await assertConverged(informer, server, [log], { timeoutMs });
      }
      for (const [k, { gvr }] of kinds.entries()) {
        const server = servers[k];
        if (!server) continue;
        const truth = await serverVersions(server);
        let last: string[] = [];
        await waitFor(
          `the engine's ${gvr.resource} to equal the server's ${truth.size}`,
          () => {
            last = differences(engineView(gvr), truth);
            return last.length === 0;
          },
          { timeoutMs },
        ).catch((err: Error) => {
          throw new Error(`${err.message}; differences: ${last.join("; ")}`);
        });
      }
      assert.equal(engine.error, undefined, "the engine's stream did not fail");
    },
  };
}
