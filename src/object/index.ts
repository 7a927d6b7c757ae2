/**
 * The object layer: unstructured Kubernetes objects, nested fields that never throw, metadata and status conditions.
 *
 * @example
 * const replicas = nested.integer(obj, "spec", "replicas");
 * if (replicas.found) scale(replicas.value); else log(describeMiss(replicas));
 */
export { deepCopy } from "./copy.js";
export { isKubeObject, isMap, type ValueType, valueType } from "./narrow.js";
export type { Condition, ConditionStatus, KubeObject, List, ListMeta, ObjectMeta, OwnerReference } from "./types.js";
