/**
 * Which fields changed between two versions of an object, as dotted paths (`spec.replicas`, `metadata.labels.app`,
 * `spec.containers[0].image`), and whether a change is only noise (bookkeeping the server does on every write).
 */
import { isMap } from "../object/narrow.js";

/** Paths that change on writes without saying anything about the object. */
export const noisePaths: readonly string[] = ["metadata.resourceVersion", "metadata.managedFields"];

function join(path: string, key: string): string {
  return /^[A-Za-z_][\w-]*$/.test(key) ? (path ? `${path}.${key}` : key) : `${path}[${JSON.stringify(key)}]`;
}

/**
 * The paths where `before` and `after` differ, deepest first-differing level only: a changed scalar, an added or
 * removed key, or an array whose length changed are reported at that path. At most `limit` paths (default 100).
 */
export function changedPaths(before: unknown, after: unknown, limit = 100): string[] {
  const out: string[] = [];
  const stack: [string, unknown, unknown][] = [["", before, after]];
  while (stack.length > 0 && out.length < limit) {
    const [path, a, b] = stack.pop() as [string, unknown, unknown];
    if (a === b) continue;
    if (isMap(a) && isMap(b)) {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      const children: [string, unknown, unknown][] = [];
      for (const key of keys) {
        const inA = Object.hasOwn(a, key);
        const inB = Object.hasOwn(b, key);
        if (inA !== inB) out.push(join(path, key));
        else children.push([join(path, key), a[key], b[key]]);
      }
      // Depth-first in key order: reverse so that the stack pops them in order.
      stack.push(...children.reverse());
    } else if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) {
      const children: [string, unknown, unknown][] = a.map((item, i) => [`${path}[${i}]`, item, b[i]]);
      stack.push(...children.reverse());
    } else {
      out.push(path || "(root)");
    }
  }
  return out.sort();
}

/** Whether every changed path is noise (see {@link noisePaths}), i.e. nothing a reader would call a change. */
export function isNoise(paths: readonly string[]): boolean {
  return (
    paths.length > 0 &&
    paths.every((p) => noisePaths.some((n) => p === n || p.startsWith(`${n}.`) || p.startsWith(`${n}[`)))
  );
}
