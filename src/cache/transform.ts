/**
 * Transforms that make a cache smaller: an informer applies one to every object before storing it. An object's
 * identity (apiVersion, kind, name, namespace, uid, resourceVersion) is always kept, since the cache needs it.
 */
import { isMap } from "../object/narrow.js";
import type { KubeObject } from "../object/types.js";

/** A field path: dotted (`spec.replicas`), or segments when a key holds a dot (`["metadata", "labels", "a.b/c"]`). */
export type FieldPath = string | readonly string[];

/** Per key: keep the value whole (`true`), or keep only some of its fields. */
interface PathTree {
  [key: string]: PathTree | true;
}

const identity: readonly (readonly string[])[] = [
  ["apiVersion"],
  ["kind"],
  ["metadata", "name"],
  ["metadata", "namespace"],
  ["metadata", "uid"],
  ["metadata", "resourceVersion"],
];

function segments(path: FieldPath): readonly string[] {
  const parts = typeof path === "string" ? path.split(".") : path;
  if (parts.length === 0 || parts.some((p) => p === "")) {
    throw new Error(`keepFields: ${JSON.stringify(path)} is not a field path; give e.g. "spec.replicas"`);
  }
  return parts;
}

function addPath(tree: PathTree, parts: readonly string[]): void {
  let node = tree;
  for (const [i, part] of parts.entries()) {
    const next = node[part];
    if (next === true) return;
    if (i === parts.length - 1) {
      node[part] = true;
      return;
    }
    if (next === undefined) {
      const child: PathTree = Object.create(null);
      node[part] = child;
      node = child;
    } else node = next;
  }
}

function pick(source: Record<string, unknown>, tree: PathTree): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const key in tree) {
    if (!Object.hasOwn(source, key)) continue;
    const want = tree[key] as PathTree | true;
    const value = source[key];
    const kept = want === true ? value : isMap(value) ? pick(value, want) : undefined;
    if (kept === undefined) continue;
    out ??= {};
    out[key] = kept;
  }
  return out;
}

/**
 * A transform that keeps only the listed fields (and the object's identity), building a new object: a per-kind
 * allow-list for caches that need a few fields of large objects. A path keeps its value whole, arrays included; a
 * path through an array or a scalar keeps nothing. `metadata.managedFields` is dropped, as by the default transform,
 * unless it is listed by that very path.
 */
export function keepFields<T extends KubeObject>(paths: readonly FieldPath[]): (object: T) => T {
  const tree: PathTree = Object.create(null);
  const lists = paths.map(segments);
  for (const parts of [...identity, ...lists]) addPath(tree, parts);
  const keepManaged = lists.some((p) => p.length === 2 && p[0] === "metadata" && p[1] === "managedFields");
  return (object) => {
    const out = (pick(object, tree) ?? {}) as T;
    if (!keepManaged && isMap(out.metadata) && "managedFields" in out.metadata) {
      // A whole `metadata` is the input's own: copied rather than changed, the input being the caller's.
      const { managedFields: _, ...rest } = out.metadata;
      out.metadata = rest;
    }
    return out;
  };
}
