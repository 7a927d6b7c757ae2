import { isMap, type ValueType, valueType } from "./narrow.js";
import { readOwn } from "./own.js";
import type { Lookup, Miss, PathSegment } from "./result.js";

// Paths stay arrays inside this layer: spreading a long path into a call's arguments can overflow the stack.

/** A `missing` miss for the first `length` segments of `path`. */
export function missing(path: readonly PathSegment[], length: number): Miss {
  return { found: false, reason: "missing", at: path.slice(0, length) };
}

/** A `wrong-type` miss for the value at `at`. */
export function wrongType(at: readonly PathSegment[], expected: ValueType, value: unknown): Miss {
  return { found: false, reason: "wrong-type", at, expected, actual: valueType(value) };
}

/** Walks `path` from `obj` with a loop, so path length is bounded by memory, not by the stack. */
export function lookup(obj: unknown, path: readonly PathSegment[]): Lookup<unknown> {
  let current = obj;
  if (current === undefined || current === null) return missing(path, 0);
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    let next: unknown;
    if (typeof segment === "number") {
      if (!Array.isArray(current)) return wrongType(path.slice(0, i), "array", current);
      next = Number.isInteger(segment) && segment >= 0 ? readOwn(current, segment) : undefined;
    } else if (typeof segment === "string") {
      if (!isMap(current)) return wrongType(path.slice(0, i), "map", current);
      next = readOwn(current, segment);
    }
    if (next === undefined || next === null) return missing(path, i + 1);
    current = next;
  }
  return { found: true, value: current };
}

/** `lookup`, then a type check on the value found. */
export function lookupTyped<T>(
  obj: unknown,
  path: readonly PathSegment[],
  expected: ValueType,
  accept: (value: unknown) => value is T,
): Lookup<T> {
  const result = lookup(obj, path);
  if (!result.found) return result;
  if (!accept(result.value)) return wrongType(path.slice(), expected, result.value);
  return { found: true, value: result.value };
}
