import { isMap } from "./narrow.js";
import { ownElements, readOwn, writeOwn } from "./own.js";
import type { OwnerReference } from "./types.js";
import { lookup } from "./walk.js";

// Accessors take `unknown` so they work on raw server data, and degrade to "absent" on malformed data, as client-go's
// unstructured getters do. Use `nested` when you need to know why a field is unusable.

function stringField(obj: unknown, field: string): string | undefined {
  const result = lookup(obj, ["metadata", field]);
  return result.found && typeof result.value === "string" ? result.value : undefined;
}

function stringEntries(obj: unknown, field: string): Record<string, string> {
  const out: Record<string, string> = {};
  const result = lookup(obj, ["metadata", field]);
  if (!result.found || !isMap(result.value)) return out;
  for (const key of Object.keys(result.value)) {
    const value = readOwn(result.value, key);
    if (typeof value === "string") writeOwn(out, key, value);
  }
  return out;
}

/** `metadata.name`, or undefined. */
export function name(obj: unknown): string | undefined {
  return stringField(obj, "name");
}

/** `metadata.namespace`, or undefined (cluster-scoped objects have none). */
export function namespace(obj: unknown): string | undefined {
  return stringField(obj, "namespace");
}

/** `metadata.uid`, or undefined. */
export function uid(obj: unknown): string | undefined {
  return stringField(obj, "uid");
}

/** `metadata.resourceVersion`, or undefined. It is opaque: compare for equality only, never order. */
export function resourceVersion(obj: unknown): string | undefined {
  return stringField(obj, "resourceVersion");
}

/** `metadata.generation` as a safe integer, or undefined. */
export function generation(obj: unknown): number | undefined {
  const result = lookup(obj, ["metadata", "generation"]);
  return result.found && Number.isSafeInteger(result.value) ? (result.value as number) : undefined;
}

/** `metadata.creationTimestamp` as its RFC 3339 string, or undefined. */
export function creationTimestamp(obj: unknown): string | undefined {
  return stringField(obj, "creationTimestamp");
}

/** `metadata.deletionTimestamp` as its RFC 3339 string, or undefined. */
export function deletionTimestamp(obj: unknown): string | undefined {
  return stringField(obj, "deletionTimestamp");
}

/** Whether deletion has been requested (a deletion timestamp is set) and finalizers are holding the object. */
export function isBeingDeleted(obj: unknown): boolean {
  return deletionTimestamp(obj) !== undefined;
}

/** A fresh copy of `metadata.labels`; entries whose value is not a string are left out. */
export function labels(obj: unknown): Record<string, string> {
  return stringEntries(obj, "labels");
}

/** A fresh copy of `metadata.annotations`; entries whose value is not a string are left out. */
export function annotations(obj: unknown): Record<string, string> {
  return stringEntries(obj, "annotations");
}

/** A fresh copy of `metadata.finalizers`; entries that are not strings are left out. */
export function finalizers(obj: unknown): string[] {
  const result = lookup(obj, ["metadata", "finalizers"]);
  if (!result.found || !Array.isArray(result.value)) return [];
  return ownElements(result.value).filter((f): f is string => typeof f === "string");
}

/** Whether `metadata.finalizers` holds `finalizer`. */
export function hasFinalizer(obj: unknown, finalizer: string): boolean {
  return finalizers(obj).includes(finalizer);
}

function ownerReference(value: unknown): OwnerReference | undefined {
  if (!isMap(value)) return undefined;
  const apiVersion = readOwn(value, "apiVersion");
  const kind = readOwn(value, "kind");
  const name = readOwn(value, "name");
  const uid = readOwn(value, "uid");
  if (typeof apiVersion !== "string" || typeof kind !== "string") return undefined;
  if (typeof name !== "string" || typeof uid !== "string") return undefined;
  const ref: OwnerReference = { apiVersion, kind, name, uid };
  const controller = readOwn(value, "controller");
  const blockOwnerDeletion = readOwn(value, "blockOwnerDeletion");
  if (typeof controller === "boolean") ref.controller = controller;
  if (typeof blockOwnerDeletion === "boolean") ref.blockOwnerDeletion = blockOwnerDeletion;
  return ref;
}

/** Fresh copies of the well-formed entries of `metadata.ownerReferences` (string apiVersion, kind, name and uid). */
export function ownerReferences(obj: unknown): OwnerReference[] {
  const result = lookup(obj, ["metadata", "ownerReferences"]);
  if (!result.found || !Array.isArray(result.value)) return [];
  const refs: OwnerReference[] = [];
  for (const entry of ownElements(result.value)) {
    const ref = ownerReference(entry);
    if (ref !== undefined) refs.push(ref);
  }
  return refs;
}

/** The owner reference marked `controller: true`, the owner that manages this object, or undefined. */
export function controllerOf(obj: unknown): OwnerReference | undefined {
  return ownerReferences(obj).find((ref) => ref.controller === true);
}
