/**
 * kubectl's --sort-by: objects ordered by the first value a JSONPath finds in each. Values compare by their type as
 * kubectl's sorter does: numbers as numbers (an int64 never with a float64), strings as resource quantities when both
 * are one (`500m` < `2`) and otherwise in natural order (`a2` < `a10`); a missing value sorts first. Values of other
 * types, or of two different types, cannot be sorted: an error, as kubectl exits on them.
 */
import { isGoInt } from "./gofmt.js";
import { goSort } from "./gosort.js";
import { findResults, type JsonPath, JsonPathError } from "./jsonpath.js";
import { parseQuantity } from "./quantity.js";

/** fvbommel/sortorder's NaturalLess, on UTF-8 bytes: digit runs compare as numbers, fewer leading zeros first. */
export function naturalLess(a: string, b: string): boolean {
  const s1 = Buffer.from(a, "utf8");
  const s2 = Buffer.from(b, "utf8");
  const digit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;
  let i1 = 0;
  let i2 = 0;
  while (i1 < s1.length && i2 < s2.length) {
    const c1 = s1[i1] as number;
    const c2 = s2[i2] as number;
    const d1 = digit(c1);
    const d2 = digit(c2);
    if (d1 !== d2) return d1;
    if (!d1) {
      if (c1 !== c2) return c1 < c2;
      i1++;
      i2++;
      continue;
    }
    while (i1 < s1.length && s1[i1] === 0x30) i1++;
    while (i2 < s2.length && s2[i2] === 0x30) i2++;
    const nonZero1 = i1;
    const nonZero2 = i2;
    while (i1 < s1.length && digit(s1[i1])) i1++;
    while (i2 < s2.length && digit(s2[i2])) i2++;
    const len1 = i1 - nonZero1;
    const len2 = i2 - nonZero2;
    if (len1 !== len2) return len1 < len2;
    const n1 = s1.subarray(nonZero1, i1);
    const n2 = s2.subarray(nonZero2, i2);
    const order = Buffer.compare(n1, n2);
    if (order !== 0) return order < 0;
    if (nonZero1 !== nonZero2) return nonZero1 < nonZero2;
  }
  return s1.length < s2.length;
}

function typeName(value: unknown): string {
  if (typeof value === "boolean") return "bool";
  if (Array.isArray(value)) return "[]interface {}";
  return "map[string]interface {}";
}

/** kubectl's `isLess` on two values from JSON; throws when they cannot be compared. */
export function isLess(a: unknown, b: unknown): boolean {
  if (a === null || b === null) return a !== null ? false : b !== null;
  const mismatch = () => new JsonPathError("unsortable interface: interface");
  if (typeof a === "number") {
    if (typeof b !== "number" || isGoInt(a) !== isGoInt(b)) throw mismatch();
    return a < b;
  }
  if (typeof a === "string") {
    if (typeof b !== "string") throw mismatch();
    const qa = parseQuantity(a);
    const qb = qa === undefined ? undefined : parseQuantity(b);
    return qa !== undefined && qb !== undefined ? qa < qb : naturalLess(a, b);
  }
  throw new JsonPathError(`unsortable type: ${typeName(a)}`);
}

/**
 * `items` in the order `kubectl get --sort-by` gives them: by the first value `path` finds in `objectOf(item)`. Throws
 * a {@link JsonPathError} when the path finds nothing in any item, or finds values that cannot be compared.
 */
export function sortByPath<T>(items: readonly T[], path: JsonPath, objectOf: (item: T) => unknown): T[] {
  const sorted = [...items];
  const keys = sorted.map((item) => findResults(path, objectOf(item)));
  const first = (results: unknown[][]): unknown[] | undefined => results[0];
  if (sorted.length > 0 && !keys.some((k) => (first(k)?.length ?? 0) > 0)) {
    throw new JsonPathError(`couldn't find any field with path "${path.source}" in the list of objects`);
  }
  goSort(sorted.length, {
    less: (i, j) => {
      const a = first(keys[i] ?? []);
      const b = first(keys[j] ?? []);
      if (!a || a.length === 0) return true;
      if (!b || b.length === 0) return false;
      try {
        return isLess(a[0], b[0]);
      } catch (err) {
        throw new JsonPathError(
          `Field ${path.source} is an unsortable type: interface, err: ${(err as Error).message}`,
        );
      }
    },
    swap: (i, j) => {
      [sorted[i], sorted[j]] = [sorted[j] as T, sorted[i] as T];
      [keys[i], keys[j]] = [keys[j] as unknown[][], keys[i] as unknown[][]];
    },
  });
  return sorted;
}
