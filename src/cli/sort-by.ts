/**
 * kubectl's --sort-by: objects ordered by the first value a JSONPath finds in each. Values compare by their type as
 * kubectl's sorter does: numbers as numbers (an int64 never with a float64), strings as resource quantities when both
 * are one (`500m` < `2`) and otherwise byte by byte (`a10` < `a2`: kubectl 1.35 does not sort naturally, whatever
 * older sources say); a missing value sorts first. Values of other types, or of two different types, cannot be
 * sorted: an error, as kubectl exits on them.
 */
import { goStringCompare, isGoInt } from "../object/gofmt.js";
import { findResults, type JsonPath, JsonPathError } from "../object/jsonpath.js";
import { goSort } from "./gosort.js";
import { parseQuantity } from "./quantity.js";

/** Values --sort-by found but cannot order (two types, or a map): kubectl exits on these, whatever it prints. */
export class UnsortableError extends JsonPathError {
  override readonly name: string = "UnsortableError";
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
    return qa !== undefined && qb !== undefined ? qa < qb : goStringCompare(a, b) < 0;
  }
  throw new JsonPathError(`unsortable type: ${typeName(a)}`);
}

/**
 * `items` in the order `kubectl get --sort-by` gives them: by the first value `path` finds in `objectOf(item)`. Throws
 * a {@link JsonPathError} when the path finds nothing in any item or fails, an {@link UnsortableError} when it finds
 * values that cannot be compared.
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
        throw new UnsortableError(
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
