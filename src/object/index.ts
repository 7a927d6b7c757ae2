/**
 * The object layer: unstructured Kubernetes objects, nested fields that never throw, metadata and status conditions.
 *
 * @example
 * const replicas = nested.integer(obj, "spec", "replicas");
 * if (replicas.found) scale(replicas.value); else log(describeMiss(replicas));
 */
export {
  type ConditionInput,
  getCondition,
  getConditions,
  isConditionTrue,
  removeCondition,
  type SetConditionOptions,
  setCondition,
} from "./conditions.js";
export { deepCopy } from "./copy.js";
/** kubectl's JSONPath: `jsonPath(obj, '{.items[?(@.spec.x==1)].metadata.name}')`, parsed once or on the fly. */
export {
  executeJsonPath,
  findResults,
  type JsonPath,
  JsonPathError,
  jsonPath,
  parseJsonPath,
  relaxedJsonPath,
} from "./jsonpath.js";
export { type NamespacedName, objectKey, splitKey } from "./key.js";
/** Metadata accessors (`meta.name(obj)`, `meta.labels(obj)`, ...) and editors (`meta.addFinalizer(obj, f)`, ...). */
export * as meta from "./meta.js";
export { asMap, isKubeObject, isMap, type ValueType, valueType } from "./narrow.js";
/** Nested-field reads (`nested.integer(obj, "spec", "replicas")`, ...) and edits (`nested.set`, `nested.remove`). */
export * as nested from "./nested.js";
export {
  describeMiss,
  type EditFailure,
  type EditResult,
  type Found,
  formatPath,
  type Lookup,
  type Miss,
  type PathSegment,
} from "./result.js";
export { type Clock, formatTime, systemClock } from "./time.js";
export type { Condition, ConditionStatus, KubeObject, List, ListMeta, ObjectMeta, OwnerReference } from "./types.js";
