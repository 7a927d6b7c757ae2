import { isMap, type ValueType, valueType } from "./narrow.js";
import { hasOwnData, readOwn, writeOwn } from "./own.js";
import type { EditFailure, EditResult, PathSegment } from "./result.js";
import { lookup } from "./walk.js";

function refuse(
  reason: EditFailure["reason"],
  at: readonly PathSegment[],
  expected?: ValueType,
  actual?: unknown,
): EditFailure {
  return expected === undefined
    ? { ok: false, changed: false, reason, at }
    : { ok: false, changed: false, reason, at, expected, actual: valueType(actual) };
}

const UNCHANGED: EditResult = { ok: true, changed: false };
const CHANGED: EditResult = { ok: true, changed: true };

function isIndexOf(segment: number, array: readonly unknown[]): boolean {
  return Number.isInteger(segment) && segment >= 0 && segment < array.length;
}

/**
 * Sets the value at `path`, creating missing (or `null`) maps on the way. Arrays are never created or grown: an index
 * must name an existing element. Keys become own properties, so `__proto__` is stored as data. The object is changed
 * by exactly one write or not at all, so a refusal leaves it as it was. `changed` is false when the field already held
 * this exact value (`Object.is`). The value is stored as given, not copied.
 */
export function set(obj: object, value: unknown, ...path: PathSegment[]): EditResult {
  if (path.length === 0) return refuse("empty-path", []);
  let current: unknown = obj;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as PathSegment;
    const here = path.slice(0, i);
    if (typeof segment === "number") {
      if (!Array.isArray(current)) return refuse("wrong-type", here, "array", current);
      if (!isIndexOf(segment, current)) return refuse("out-of-range", path.slice(0, i + 1));
    } else if (!isMap(current)) {
      return refuse("wrong-type", here, "map", current);
    }
    const container: object = current;
    if (i === path.length - 1) {
      if (hasOwnData(container, segment) && Object.is(readOwn(container, segment), value)) return UNCHANGED;
      return writeOwn(container, segment, value) ? CHANGED : refuse("read-only", here);
    }
    const next = readOwn(container, segment);
    if (next !== undefined && next !== null) {
      current = next;
      continue;
    }
    const built = buildMaps(value, path, i + 1);
    if (!built.ok) return built.failure;
    return writeOwn(container, segment, built.value) ? CHANGED : refuse("read-only", here);
  }
  return UNCHANGED;
}

/** Builds the maps for `path[from..]` bottom-up, so they are attached to the object in a single write. */
function buildMaps(
  value: unknown,
  path: readonly PathSegment[],
  from: number,
): { ok: true; value: unknown } | { ok: false; failure: EditFailure } {
  for (let j = from; j < path.length; j++) {
    if (typeof path[j] !== "string") return { ok: false, failure: refuse("missing", path.slice(0, j)) };
  }
  let built = value;
  for (let j = path.length - 1; j >= from; j--) {
    const map: Record<string, unknown> = {};
    writeOwn(map, path[j] as string, built);
    built = map;
  }
  return { ok: true, value: built };
}

/**
 * Removes the value at `path`: a map key is deleted, an array element is spliced out (later elements shift down).
 * Nothing to remove (including a path through a non-container) is `{ ok: true, changed: false }`; a frozen or sealed
 * container is refused with `read-only`.
 */
export function remove(obj: object, ...path: PathSegment[]): EditResult {
  if (path.length === 0) return refuse("empty-path", []);
  const parentPath = path.slice(0, -1);
  const parent = lookup(obj, parentPath);
  if (!parent.found) return UNCHANGED;
  const container = parent.value;
  const segment = path[path.length - 1];
  if (typeof segment === "number") {
    if (!Array.isArray(container) || !isIndexOf(segment, container) || !hasOwnData(container, segment)) {
      return UNCHANGED;
    }
    if (!canSplice(container, segment)) return refuse("read-only", parentPath);
    container.splice(segment, 1);
    return CHANGED;
  }
  if (typeof segment !== "string" || !isMap(container) || !hasOwnData(container, segment)) return UNCHANGED;
  return Reflect.deleteProperty(container, segment) ? CHANGED : refuse("read-only", parentPath);
}

/**
 * Whether splicing out `index` can complete. `splice` throws part-way through, after it has already shifted elements,
 * when an element cannot be overwritten or deleted, or when it must fill a hole in an array that is not extensible; so
 * everything it will touch is checked before it starts.
 */
function canSplice(array: unknown[], index: number): boolean {
  if (!Object.isExtensible(array)) return false;
  if (Object.getOwnPropertyDescriptor(array, "length")?.writable !== true) return false;
  for (let i = index; i < array.length; i++) {
    const descriptor = Object.getOwnPropertyDescriptor(array, i);
    if (descriptor !== undefined && !(descriptor.configurable === true && descriptor.writable === true)) return false;
  }
  return true;
}
