/**
 * Which changes of a watched object are worth a reconcile. A predicate sees the object before and after: `old`
 * undefined for a create, `obj` undefined for a delete. Creates and deletes always pass the built-in ones, as in
 * controller-runtime; they filter updates only.
 */
import type { KubeObject } from "../object/types.js";

/** Whether a change (create: no `old`; delete: no `obj`) should enqueue a reconcile. */
export type Predicate<T extends KubeObject = KubeObject> = (old: T | undefined, obj: T | undefined) => boolean;

/** Passes updates whose `metadata.generation` changed: spec changes, not status or metadata-only ones. */
export const generationChanged: Predicate = (old, obj) =>
  !old || !obj || old.metadata.generation !== obj.metadata.generation;

/** Passes updates whose labels changed. */
export const labelsChanged: Predicate = (old, obj) =>
  !old || !obj || !sameRecord(old.metadata.labels, obj.metadata.labels);

/** Passes updates whose annotations changed. */
export const annotationsChanged: Predicate = (old, obj) =>
  !old || !obj || !sameRecord(old.metadata.annotations, obj.metadata.annotations);

/** Passes a change that any of `predicates` passes (several given to `for`/`owns`/`watches` must all pass). */
export function anyOf<T extends KubeObject>(...predicates: readonly Predicate<T>[]): Predicate<T> {
  return (old, obj) => predicates.some((p) => p(old, obj));
}

function sameRecord(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  const left = Object.entries(a ?? {});
  if (left.length !== Object.keys(b ?? {}).length) return false;
  return left.every(([k, v]) => b?.[k] === v);
}
