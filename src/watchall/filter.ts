/** Choosing which discovered kinds to watch, and which of their objects. */
import { type ListWatch, type Selection, wrapListWatch } from "../cache/watcher.js";
import type { WatchEvent, WatchOptions, WatchSink } from "../client/options.js";
import { isBuiltinGroup } from "../discovery/snapshot-mapper.js";
import type { ApiResource, DiscoveryResult } from "../discovery/types.js";
import type { KubeObject } from "../object/types.js";
import { definedProps } from "../util/defined.js";
import type { KindFilter } from "./types.js";

function lower(xs: readonly string[] | undefined): string[] {
  return (xs ?? []).map((x) => x.toLowerCase());
}

/** Whether `filter` says anything about kinds (groups, kinds or categories). */
function namesKinds(filter: KindFilter): boolean {
  return (filter.groups?.length ?? 0) + (filter.kinds?.length ?? 0) + (filter.categories?.length ?? 0) > 0;
}

/** Whether `filter` names `r` by group, kind, resource (plain, or `resource.group` for one group's) or category. */
export function namesKind(filter: KindFilter, r: ApiResource): boolean {
  if (filter.groups?.includes(r.group)) return true;
  const kinds = lower(filter.kinds);
  const names = [r.kind, r.resource, `${r.resource}.${r.group}`].map((n) => n.toLowerCase());
  if (names.some((n) => kinds.includes(n))) return true;
  return (r.categories ?? []).some((c) => filter.categories?.includes(c));
}

/** Whether `r` can be watched at all: a resource, not a subresource, that can be listed and watched. */
export function isWatchable(r: ApiResource): boolean {
  return !r.resource.includes("/") && r.verbs.includes("list") && r.verbs.includes("watch");
}

/**
 * Whether kind `r` is selected: named by `include` (or `include` names no kinds), not named by `exclude`, and not
 * cluster-scoped when `include` limits namespaces.
 */
export function selected(r: ApiResource, include?: KindFilter, exclude?: KindFilter): boolean {
  if (include && namesKinds(include) && !namesKind(include, r)) return false;
  if (include?.namespaces?.length && !r.namespaced) return false;
  return !(exclude && namesKinds(exclude) && namesKind(exclude, r));
}

/** The engine options that choose kinds. */
export interface KindSelection {
  readonly include?: KindFilter | undefined;
  readonly exclude?: KindFilter | undefined;
  readonly allResources?: boolean | undefined;
}

/**
 * Whether the engine watches discovered kind `r`: watchable and selected, and custom, named by `include`, or built in
 * with `allResources`.
 */
export function isWanted(r: ApiResource, options: KindSelection): boolean {
  if (!isWatchable(r) || !selected(r, options.include, options.exclude)) return false;
  const { include } = options;
  return options.allResources === true || !isBuiltinGroup(r.group) || (include !== undefined && namesKind(include, r));
}

/** Whether `group/version` is one that discovery could not read now (its resources are missing, not gone). */
export function isUnavailable(result: DiscoveryResult | undefined, group: string, version: string): boolean {
  return result?.unavailable.some((u) => u.group === group && u.version === version) ?? false;
}

/** How the objects of a namespaced kind are selected: the namespace to watch, server-side selectors, a local filter. */
export interface ObjectScope {
  /** Watch this namespace only; undefined: all namespaces. */
  readonly namespace: string | undefined;
  readonly selection: Selection;
  /** Objects outside it are dropped before they reach the informer (several namespaces included). */
  readonly keep: ((object: KubeObject) => boolean) | undefined;
}

/**
 * Where and how to watch a kind given the filters and selectors: one included namespace is watched as such, several
 * are watched cluster-wide and filtered here; excluded namespaces become `metadata.namespace!=` field selectors.
 */
export function objectScope(
  namespaced: boolean,
  options: {
    readonly include?: KindFilter | undefined;
    readonly exclude?: KindFilter | undefined;
    readonly labelSelector?: string | undefined;
    readonly fieldSelector?: string | undefined;
    readonly metadataOnly?: boolean | undefined;
  },
): ObjectScope {
  const included = namespaced ? [...new Set(options.include?.namespaces ?? [])] : [];
  const excluded = namespaced ? (options.exclude?.namespaces ?? []).filter((ns) => !included.includes(ns)) : [];
  const fields = [
    ...(options.fieldSelector ? [options.fieldSelector] : []),
    ...excluded.map((ns) => `metadata.namespace!=${ns}`),
  ].join(",");
  const selection = definedProps<Selection>({
    labelSelector: options.labelSelector || undefined,
    fieldSelector: fields || undefined,
    metadataOnly: options.metadataOnly || undefined,
  });
  const keep =
    included.length > 1 ? (object: KubeObject) => included.includes(object.metadata?.namespace ?? "") : undefined;
  return { namespace: included.length === 1 ? included[0] : undefined, selection, keep };
}

/** `source` with the objects `keep` rejects left out of its lists and watches (bookmarks and errors pass). */
export function filtered<T extends KubeObject>(source: ListWatch<T>, keep: (object: T) => boolean): ListWatch<T> {
  const kept = (event: WatchEvent<T>) => event.type === "BOOKMARK" || event.type === "ERROR" || keep(event.object);
  const batches = source.watchBatches?.bind(source);
  const push = source.watchPush?.bind(source);
  return wrapListWatch(source, {
    list: async (opts) => {
      const list = await source.list(opts);
      return { ...list, items: (list.items ?? []).filter(keep) };
    },
    watch: (opts) => ({
      async *[Symbol.asyncIterator]() {
        for await (const event of source.watch(opts)) if (kept(event)) yield event;
      },
    }),
    ...(batches
      ? {
          watchBatches: (opts: WatchOptions) => ({
            async *[Symbol.asyncIterator]() {
              for await (const batch of batches(opts)) {
                const left = batch.filter(kept);
                if (left.length > 0) yield left;
              }
            },
          }),
        }
      : {}),
    ...(push
      ? {
          watchPush: (opts: WatchOptions, sink: WatchSink<T>) =>
            push(opts, {
              events: (batch) => {
                const left = batch.filter(kept);
                if (left.length > 0) sink.events(left);
              },
              end: () => sink.end(),
              error: (err) => sink.error(err),
            }),
        }
      : {}),
  });
}
