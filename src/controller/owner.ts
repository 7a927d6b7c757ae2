/**
 * Owner references, as controller-runtime's `controllerutil.SetControllerReference` and `SetOwnerReference` set them:
 * the owner's identity (its uid, not only its name), at most one controller, and only where the garbage collector can
 * find the owner (the dependent's namespace, or the cluster scope).
 */
import { parseApiVersion } from "../client/gvr.js";
import { isMap } from "../object/narrow.js";
import { set } from "../object/nested-set.js";
import { ownElements, readOwn } from "../object/own.js";
import type { KubeObject, OwnerReference } from "../object/types.js";
import { lookup } from "../object/walk.js";

/** Why an owner reference was refused. */
export type OwnerReferenceFailure =
  | "already-owned"
  | "cross-namespace"
  | "cluster-scoped-dependent"
  | "incomplete-owner"
  | "wrong-type"
  | "read-only";

/** An owner reference that cannot be set; the object is left as it was. */
export class OwnerReferenceError extends Error {
  override readonly name = "OwnerReferenceError";
  /** Why: another controller, an owner in another namespace, a namespaced owner of a cluster-scoped object, ... */
  readonly reason: OwnerReferenceFailure;

  constructor(reason: OwnerReferenceFailure, message: string) {
    super(message);
    this.reason = reason;
  }
}

/** Options of {@link setControllerReference}. */
export interface ControllerReferenceOptions {
  /** Whether foreground deletion of the owner waits for this object; default true, as controller-runtime sets it. */
  readonly blockOwnerDeletion?: boolean | undefined;
}

const describe = (obj: unknown): string => {
  const ns = isMap(obj) && isMap(obj.metadata) ? obj.metadata.namespace : undefined;
  const name = isMap(obj) && isMap(obj.metadata) ? obj.metadata.name : undefined;
  const kind = isMap(obj) ? obj.kind : undefined;
  return `${typeof kind === "string" ? kind : "object"} ${typeof ns === "string" && ns ? `${ns}/` : ""}${String(name)}`;
};

function stringMeta(obj: unknown, field: string): string {
  const found = lookup(obj, ["metadata", field]);
  return found.found && typeof found.value === "string" ? found.value : "";
}

/** The reference to `owner`, checked to be complete: an owner that was never read from the server has no uid. */
function referenceTo(owner: KubeObject): OwnerReference {
  const name = stringMeta(owner, "name");
  const uid = stringMeta(owner, "uid");
  const { apiVersion, kind } = owner;
  if (typeof apiVersion !== "string" || !apiVersion || typeof kind !== "string" || !kind || !name || !uid) {
    throw new OwnerReferenceError(
      "incomplete-owner",
      `${describe(owner)} cannot own anything: it needs apiVersion, kind, metadata.name and metadata.uid (use the object as the server returned it)`,
    );
  }
  return { apiVersion, kind, name, uid };
}

/**
 * Refuses an owner the garbage collector would not find: a namespaced owner must be in the dependent's namespace, and
 * a cluster-scoped dependent (no `metadata.namespace`) can have only cluster-scoped owners.
 */
function checkScope(owner: KubeObject, object: object): void {
  const ownerNs = stringMeta(owner, "namespace");
  if (!ownerNs) return;
  const objectNs = stringMeta(object, "namespace");
  if (!objectNs) {
    throw new OwnerReferenceError(
      "cluster-scoped-dependent",
      `${describe(object)} has no metadata.namespace, so it is cluster-scoped and cannot be owned by ${describe(owner)} in namespace ${ownerNs} (set metadata.namespace on a namespaced object)`,
    );
  }
  if (objectNs !== ownerNs) {
    throw new OwnerReferenceError(
      "cross-namespace",
      `cross-namespace owner references are disallowed: ${describe(owner)} is in namespace ${ownerNs}, ${describe(object)} in ${objectNs}`,
    );
  }
}

/** Whether two references name the same object: same group (any version), kind and name, as controller-runtime compares. */
function sameObject(a: { apiVersion: string; kind: string; name: string }, b: OwnerReference): boolean {
  return (
    parseApiVersion(a.apiVersion).group === parseApiVersion(b.apiVersion).group &&
    a.kind === b.kind &&
    a.name === b.name
  );
}

function asReference(entry: unknown): OwnerReference | undefined {
  if (!isMap(entry)) return undefined;
  const { apiVersion, kind, name, uid } = {
    apiVersion: readOwn(entry, "apiVersion"),
    kind: readOwn(entry, "kind"),
    name: readOwn(entry, "name"),
    uid: readOwn(entry, "uid"),
  };
  if (typeof apiVersion !== "string" || typeof kind !== "string" || typeof name !== "string") return undefined;
  return { ...(entry as unknown as OwnerReference), apiVersion, kind, name, uid: typeof uid === "string" ? uid : "" };
}

function currentEntries(object: object): unknown[] {
  const found = lookup(object, ["metadata", "ownerReferences"]);
  if (!found.found) {
    if (found.reason === "wrong-type") {
      throw new OwnerReferenceError("wrong-type", `${describe(object)}: metadata is not a map`);
    }
    return [];
  }
  if (found.value === null) return [];
  if (!Array.isArray(found.value)) {
    throw new OwnerReferenceError("wrong-type", `${describe(object)}: metadata.ownerReferences is not a list`);
  }
  return ownElements(found.value);
}

const sameFields = (a: OwnerReference, b: OwnerReference): boolean =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/** Replaces the entry for the same object as `ref` (or appends it); returns whether anything changed. */
function upsert(
  object: object,
  entries: unknown[],
  ref: OwnerReference,
  merge: (old: OwnerReference) => OwnerReference,
) {
  const index = entries.findIndex((entry) => {
    const existing = asReference(entry);
    return existing !== undefined && sameObject(ref, existing);
  });
  const next = entries.slice();
  if (index < 0) next.push(ref);
  else {
    const old = asReference(entries[index]) as OwnerReference;
    const merged = merge(old);
    if (sameFields(old, merged)) return false;
    next[index] = merged;
  }
  const result = set(object, next, "metadata", "ownerReferences");
  if (!result.ok) {
    throw new OwnerReferenceError(
      result.reason === "read-only" ? "read-only" : "wrong-type",
      `${describe(object)}: cannot write metadata.ownerReferences (${result.reason}); edit a copy, not a cached object`,
    );
  }
  return true;
}

/**
 * Makes `owner` the controller of `object` (controller-runtime's `SetControllerReference`): a reference with
 * `controller: true` and `blockOwnerDeletion: true`, replacing an older reference to the same owner (same group, kind
 * and name, so an owner recreated under its name takes over). Throws {@link OwnerReferenceError} when another object is
 * already the controller, when the owner is in another namespace, when a namespaced owner would own a cluster-scoped
 * object, or when the owner has no uid; the object is unchanged then. Returns whether `object` changed.
 */
export function setControllerReference(
  owner: KubeObject,
  object: object,
  options: ControllerReferenceOptions = {},
): boolean {
  const ref: OwnerReference = {
    ...referenceTo(owner),
    controller: true,
    blockOwnerDeletion: options.blockOwnerDeletion ?? true,
  };
  checkScope(owner, object);
  const entries = currentEntries(object);
  for (const entry of entries) {
    const existing = asReference(entry);
    if (existing?.controller === true && !sameObject(ref, existing)) {
      throw new OwnerReferenceError(
        "already-owned",
        `${describe(object)} is already controlled by ${existing.kind} ${existing.name}: an object has at most one controller`,
      );
    }
  }
  return upsert(object, entries, ref, (old) => ({ ...old, ...ref }));
}

/**
 * Adds `owner` to `object`'s owner references without making it the controller (controller-runtime's
 * `SetOwnerReference`); an existing reference to the same owner gets the owner's current apiVersion and uid and keeps
 * its `controller` and `blockOwnerDeletion`. Refuses as {@link setControllerReference} does, bar the controller check.
 * Returns whether `object` changed.
 */
export function setOwnerReference(owner: KubeObject, object: object): boolean {
  const ref = referenceTo(owner);
  checkScope(owner, object);
  return upsert(object, currentEntries(object), ref, (old) => ({ ...old, ...ref }));
}
