import { isMap } from "./narrow.js";
import { remove, set } from "./nested-set.js";
import { ownElements, readOwn, writeOwn } from "./own.js";
import type { EditFailure, EditResult, Miss } from "./result.js";
import { lookup, lookupTyped } from "./walk.js";

// Every writer builds the new value first and stores it with one `set`, so a refusal (metadata that is not a map, a
// frozen object from a cache) leaves the object untouched, and an equal value is reported as no change so a controller
// can skip a pointless update.

const UNCHANGED: EditResult = { ok: true, changed: false };
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);

function refused(miss: Miss): EditFailure {
  return { ok: false, changed: false, reason: "wrong-type", at: miss.at, expected: miss.expected, actual: miss.actual };
}

function sameStringMap(current: unknown, wanted: Readonly<Record<string, string>>): boolean {
  if (!isMap(current)) return false;
  const keys = Object.keys(current);
  if (keys.length !== Object.keys(wanted).length) return false;
  return keys.every((key) => Object.hasOwn(wanted, key) && readOwn(current, key) === readOwn(wanted, key));
}

function setStringMap(obj: object, field: string, wanted: Readonly<Record<string, string>> | undefined): EditResult {
  if (wanted === undefined) return remove(obj, "metadata", field);
  const current = lookup(obj, ["metadata", field]);
  if (current.found && sameStringMap(current.value, wanted)) return UNCHANGED;
  const copy: Record<string, string> = {};
  for (const key of Object.keys(wanted)) writeOwn(copy, key, readOwn(wanted, key));
  return set(obj, copy, "metadata", field);
}

/** Replaces `metadata.labels` with a copy of `labels`; undefined removes the field. */
export function setLabels(obj: object, labels: Readonly<Record<string, string>> | undefined): EditResult {
  return setStringMap(obj, "labels", labels);
}

/** Replaces `metadata.annotations` with a copy of `annotations`; undefined removes the field. */
export function setAnnotations(obj: object, annotations: Readonly<Record<string, string>> | undefined): EditResult {
  return setStringMap(obj, "annotations", annotations);
}

/** Replaces `metadata.finalizers` with a copy of `finalizers`; undefined removes the field. */
export function setFinalizers(obj: object, finalizers: readonly string[] | undefined): EditResult {
  if (finalizers === undefined) return remove(obj, "metadata", "finalizers");
  const current = lookup(obj, ["metadata", "finalizers"]);
  if (current.found && Array.isArray(current.value)) {
    const elements = ownElements(current.value);
    if (elements.length === finalizers.length && elements.every((f, i) => f === finalizers[i])) return UNCHANGED;
  }
  return set(obj, [...finalizers], "metadata", "finalizers");
}

/**
 * Appends `finalizer` to `metadata.finalizers` unless it is there; `changed` says whether it was added. A
 * `finalizers` field that is present but not an array is refused rather than overwritten.
 */
export function addFinalizer(obj: object, finalizer: string): EditResult {
  const current = lookupTyped(obj, ["metadata", "finalizers"], "array", isArray);
  if (!current.found) {
    return current.reason === "missing" ? set(obj, [finalizer], "metadata", "finalizers") : refused(current);
  }
  const elements = ownElements(current.value);
  if (elements.includes(finalizer)) return UNCHANGED;
  return set(obj, [...elements, finalizer], "metadata", "finalizers");
}

/** Removes every occurrence of `finalizer` from `metadata.finalizers`; `changed` says whether there was one. */
export function removeFinalizer(obj: object, finalizer: string): EditResult {
  const current = lookup(obj, ["metadata", "finalizers"]);
  if (!current.found || !Array.isArray(current.value)) return UNCHANGED;
  const elements = ownElements(current.value);
  const kept = elements.filter((f) => f !== finalizer);
  if (kept.length === elements.length) return UNCHANGED;
  return set(obj, kept, "metadata", "finalizers");
}
