/** Choosing which discovered kinds to watch. */
import type { ApiResource } from "../discovery/types.js";
import type { KindFilter } from "./types.js";

/** Whether `filter` names `r` by group, kind, resource or category. */
export function matchesFilter(filter: KindFilter, r: ApiResource): boolean {
  const lower = (xs: readonly string[] | undefined) => (xs ?? []).map((x) => x.toLowerCase());
  if (filter.groups?.includes(r.group)) return true;
  const kinds = lower(filter.kinds);
  if (kinds.includes(r.kind.toLowerCase()) || kinds.includes(r.resource.toLowerCase())) return true;
  return (r.categories ?? []).some((c) => filter.categories?.includes(c));
}

/** Whether `r` can be watched at all: listable and watchable. */
export function isWatchable(r: ApiResource): boolean {
  return r.verbs.includes("list") && r.verbs.includes("watch");
}

/** Whether `r` passes `include` (when given) and not `exclude`. */
export function selected(r: ApiResource, include?: KindFilter, exclude?: KindFilter): boolean {
  if (include && !matchesFilter(include, r)) return false;
  return !(exclude && matchesFilter(exclude, r));
}
