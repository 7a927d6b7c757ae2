import { readOwn } from "./own.js";
import type { KubeObject } from "./types.js";

/**
 * What a JSON value is. `integer` is a safe integer (what JSON.parse can hold exactly), `number` any other finite
 * number; `map` is a plain object (what JSON calls an object, not a JS `Map`); `other` is anything JSON cannot produce.
 */
export type ValueType = "string" | "integer" | "number" | "boolean" | "null" | "array" | "map" | "other";

/** Classifies a value by its JSON type. */
export function valueType(value: unknown): ValueType {
  switch (typeof value) {
    case "string":
      return "string";
    case "boolean":
      return "boolean";
    case "number":
      if (Number.isSafeInteger(value)) return "integer";
      return Number.isFinite(value) ? "number" : "other";
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) return "array";
      return isMap(value) ? "map" : "other";
    default:
      return "other";
  }
}

/**
 * Whether a value is a plain object: its prototype is null or a realm's `Object.prototype`. Class instances (Date, Map,
 * ...) are not maps, so a helper never walks into an object whose properties come from code rather than data.
 */
export function isMap(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

/** `value` when it is a map (see isMap), else undefined: for reading a field of JSON that may be missing or wrong. */
export function asMap(value: unknown): Record<string, unknown> | undefined {
  return isMap(value) ? value : undefined;
}

/**
 * Whether a value has the envelope of a Kubernetes object: a map with string `apiVersion` and `kind` and a map
 * `metadata`. Only the envelope is checked; the accessors check every field they read.
 */
export function isKubeObject(value: unknown): value is KubeObject {
  return (
    isMap(value) &&
    typeof readOwn(value, "apiVersion") === "string" &&
    typeof readOwn(value, "kind") === "string" &&
    isMap(readOwn(value, "metadata"))
  );
}
