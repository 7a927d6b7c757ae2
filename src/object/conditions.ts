import { deepCopy } from "./copy.js";
import { generation } from "./meta-read.js";
import { isMap } from "./narrow.js";
import { set } from "./nested-set.js";
import { hasOwnData, ownElements, readOwn, shallowCopyMap, writeOwn } from "./own.js";
import type { EditResult } from "./result.js";
import { type Clock, formatTime, systemClock } from "./time.js";
import type { Condition, ConditionStatus } from "./types.js";
import { lookup, lookupTyped } from "./walk.js";

// Semantics follow apimachinery's meta.SetStatusCondition / RemoveStatusCondition, which controllers already rely on.

/** The desired state of one condition, as passed to `setCondition`. */
export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason?: string | undefined;
  message?: string | undefined;
  /** Defaults to the object's `metadata.generation`. */
  observedGeneration?: number | undefined;
  /** Used only when the status changes (or the condition is new); defaults to now. */
  lastTransitionTime?: string | undefined;
}

/** Options for `setCondition`. */
export interface SetConditionOptions {
  /** Where "now" comes from; tests pass a fixed clock. */
  now?: Clock | undefined;
}

const STATUSES: readonly unknown[] = ["True", "False", "Unknown"] satisfies ConditionStatus[];
const UNCHANGED: EditResult = { ok: true, changed: false };
const isArray = (v: unknown): v is unknown[] => Array.isArray(v);

function entries(obj: unknown): unknown[] {
  const result = lookup(obj, ["status", "conditions"]);
  return result.found && Array.isArray(result.value) ? ownElements(result.value) : [];
}

/** The index of the first entry of `type`: the one apimachinery's FindStatusCondition would pick. */
function indexOf(list: readonly unknown[], type: string): number {
  return list.findIndex((entry) => isMap(entry) && readOwn(entry, "type") === type);
}

/** A checked copy of one entry: undefined unless `type` and `status` are valid; mistyped optional fields are dropped. */
function snapshot(entry: unknown): Condition | undefined {
  if (!isMap(entry)) return undefined;
  const type = readOwn(entry, "type");
  const status = readOwn(entry, "status");
  if (typeof type !== "string" || !STATUSES.includes(status)) return undefined;
  const copy = deepCopy(entry);
  for (const field of ["reason", "message", "lastTransitionTime"]) {
    if (hasOwnData(copy, field) && typeof readOwn(copy, field) !== "string") delete copy[field];
  }
  if (hasOwnData(copy, "observedGeneration") && !Number.isSafeInteger(readOwn(copy, "observedGeneration"))) {
    delete copy.observedGeneration;
  }
  return copy as Condition;
}

/** Checked copies of the well-formed entries of `status.conditions`. */
export function getConditions(obj: unknown): Condition[] {
  const out: Condition[] = [];
  for (const entry of entries(obj)) {
    const condition = snapshot(entry);
    if (condition !== undefined) out.push(condition);
  }
  return out;
}

/** A checked copy of the condition of `type`, or undefined when there is none or it is malformed. */
export function getCondition(obj: unknown, type: string): Condition | undefined {
  const list = entries(obj);
  const index = indexOf(list, type);
  return index < 0 ? undefined : snapshot(list[index]);
}

/** Whether the condition of `type` has status `"True"`. */
export function isConditionTrue(obj: unknown, type: string): boolean {
  return getCondition(obj, type)?.status === "True";
}

/**
 * Sets the condition of `condition.type` in `status.conditions`, creating `status` and the list when absent.
 * `lastTransitionTime` moves only when the status changes (or the entry is new or lacks one); otherwise the old time is
 * kept. `observedGeneration` defaults to `metadata.generation`. `reason`, `message` and `observedGeneration` are made
 * to match the input (an absent one is removed); other fields of an existing entry are kept. `changed` says whether
 * anything differs. The list is replaced rather than edited in place, so a refused write leaves the object as it was;
 * a `status` or `status.conditions` of the wrong type is refused, not overwritten.
 */
export function setCondition(obj: object, condition: ConditionInput, options: SetConditionOptions = {}): EditResult {
  const current = lookupTyped(obj, ["status", "conditions"], "array", isArray);
  if (!current.found && current.reason === "wrong-type") {
    const { at, expected, actual } = current;
    return { ok: false, changed: false, reason: "wrong-type", at, expected, actual };
  }
  const list = current.found ? current.value : [];
  const elements = ownElements(list);
  const transitionTime = () => condition.lastTransitionTime ?? formatTime((options.now ?? systemClock)());
  const wanted = {
    reason: condition.reason,
    message: condition.message,
    observedGeneration: condition.observedGeneration ?? generation(obj),
  };
  const index = indexOf(elements, condition.type);
  const next = list.slice();
  if (index < 0) {
    const entry: Record<string, unknown> = { type: condition.type, status: condition.status };
    if (wanted.observedGeneration !== undefined) entry.observedGeneration = wanted.observedGeneration;
    entry.lastTransitionTime = transitionTime();
    if (wanted.reason !== undefined) entry.reason = wanted.reason;
    if (wanted.message !== undefined) entry.message = wanted.message;
    next.push(entry);
    return set(obj, next, "status", "conditions");
  }
  const old = elements[index] as Record<string, unknown>;
  const entry = shallowCopyMap(old);
  let changed = false;
  if (readOwn(old, "status") !== condition.status || typeof readOwn(old, "lastTransitionTime") !== "string") {
    writeOwn(entry, "status", condition.status);
    writeOwn(entry, "lastTransitionTime", transitionTime());
    changed = true;
  }
  for (const [field, value] of Object.entries(wanted)) {
    if (readOwn(old, field) === value && hasOwnData(old, field) === (value !== undefined)) continue;
    if (value === undefined) delete entry[field];
    else writeOwn(entry, field, value);
    changed = true;
  }
  if (!changed) return UNCHANGED;
  writeOwn(next, index, entry);
  return set(obj, next, "status", "conditions");
}

/** Removes every condition of `type` from `status.conditions`; `changed` says whether there was one. */
export function removeCondition(obj: object, type: string): EditResult {
  const current = lookup(obj, ["status", "conditions"]);
  if (!current.found || !Array.isArray(current.value)) return UNCHANGED;
  const list = ownElements(current.value);
  const kept = list.filter((entry) => !(isMap(entry) && readOwn(entry, "type") === type));
  if (kept.length === list.length) return UNCHANGED;
  return set(obj, kept, "status", "conditions");
}
