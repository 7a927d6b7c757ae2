import { isMap } from "./narrow.js";
import { readOwn, writeOwn } from "./own.js";
import type { Lookup, PathSegment } from "./result.js";
import { lookup, lookupTyped, wrongType } from "./walk.js";

const isString = (v: unknown): v is string => typeof v === "string";
const isSafeInteger = (v: unknown): v is number => Number.isSafeInteger(v);
const isFiniteNumber = (v: unknown): v is number => Number.isFinite(v);
const isBoolean = (v: unknown): v is boolean => typeof v === "boolean";
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);

/**
 * The value at `path`, whatever its type. String segments read own keys of maps, number segments read elements of
 * arrays. An absent key, an index past the end, `undefined` and `null` all count as missing: Kubernetes decodes an
 * explicit `null` as an unset field. The value is the live one, not a copy.
 */
export function get(obj: unknown, ...path: PathSegment[]): Lookup<unknown> {
  return lookup(obj, path);
}

/** The string at `path`. */
export function string(obj: unknown, ...path: PathSegment[]): Lookup<string> {
  return lookupTyped(obj, path, "string", isString);
}

/** The safe integer at `path`; a fraction, an integer beyond 2^53 or a numeric string is the wrong type. */
export function integer(obj: unknown, ...path: PathSegment[]): Lookup<number> {
  return lookupTyped(obj, path, "integer", isSafeInteger);
}

/** The finite number (integer or not) at `path`; a numeric string is the wrong type. */
export function number(obj: unknown, ...path: PathSegment[]): Lookup<number> {
  return lookupTyped(obj, path, "number", isFiniteNumber);
}

/** The boolean at `path`; `"true"` is the wrong type. */
export function boolean(obj: unknown, ...path: PathSegment[]): Lookup<boolean> {
  return lookupTyped(obj, path, "boolean", isBoolean);
}

/** The array at `path`, live: copy it before changing an object you do not own. */
export function slice(obj: unknown, ...path: PathSegment[]): Lookup<unknown[]> {
  return lookupTyped(obj, path, "array", isArray);
}

/** The plain object at `path`, live: copy it before changing an object you do not own. */
export function map(obj: unknown, ...path: PathSegment[]): Lookup<Record<string, unknown>> {
  return lookupTyped(obj, path, "map", isMap);
}

/** A fresh copy of the array of strings at `path`; a non-string element is reported at its index. */
export function stringSlice(obj: unknown, ...path: PathSegment[]): Lookup<string[]> {
  const result = lookupTyped(obj, path, "array", isArray);
  if (!result.found) return result;
  const out: string[] = [];
  for (let i = 0; i < result.value.length; i++) {
    const element = readOwn(result.value, i);
    if (typeof element !== "string") return wrongType([...path, i], "string", element);
    out.push(element);
  }
  return { found: true, value: out };
}

/** A fresh copy of the string-to-string map at `path` (labels, annotations); a non-string value is reported at its key. */
export function stringMap(obj: unknown, ...path: PathSegment[]): Lookup<Record<string, string>> {
  const result = lookupTyped(obj, path, "map", isMap);
  if (!result.found) return result;
  const out: Record<string, string> = {};
  for (const key of Object.keys(result.value)) {
    const value = readOwn(result.value, key);
    if (typeof value !== "string") return wrongType([...path, key], "string", value);
    writeOwn(out, key, value);
  }
  return { found: true, value: out };
}
