/**
 * The shapes of unstructured Kubernetes data. They describe a well-formed object; data from a server or a user may
 * not match, so the helpers in this layer check each value at runtime instead of trusting these declarations.
 */

/** Any Kubernetes object: the type envelope, metadata, and whatever fields its kind defines. */
export interface KubeObject {
  /** `group/version`, or just `version` for the core group (`v1`). */
  apiVersion: string;
  /** The kind, e.g. `ConfigMap`. */
  kind: string;
  /** Standard object metadata. */
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** Standard object metadata (`metav1.ObjectMeta`). */
export interface ObjectMeta {
  name?: string | undefined;
  generateName?: string | undefined;
  /** Absent for cluster-scoped objects. */
  namespace?: string | undefined;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
  generation?: number | undefined;
  /** RFC 3339, seconds precision. */
  creationTimestamp?: string | undefined;
  /** RFC 3339, seconds precision; set when deletion was requested and finalizers still hold the object. */
  deletionTimestamp?: string | undefined;
  deletionGracePeriodSeconds?: number | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  ownerReferences?: OwnerReference[] | undefined;
  finalizers?: string[] | undefined;
  managedFields?: unknown[] | undefined;
  [field: string]: unknown;
}

/** A reference from a dependent to its owner (`metav1.OwnerReference`). */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  /** True on at most one reference: the owner that manages this object. */
  controller?: boolean | undefined;
  blockOwnerDeletion?: boolean | undefined;
}

/** The status of a condition: Kubernetes allows exactly these three. */
export type ConditionStatus = "True" | "False" | "Unknown";

/** One entry of `status.conditions` (`metav1.Condition`), plus any extra fields older condition styles carry. */
export interface Condition {
  type: string;
  status: ConditionStatus;
  observedGeneration?: number | undefined;
  /** RFC 3339, seconds precision: when `status` last changed. */
  lastTransitionTime?: string | undefined;
  reason?: string | undefined;
  message?: string | undefined;
  [field: string]: unknown;
}

/** List metadata (`metav1.ListMeta`). */
export interface ListMeta {
  resourceVersion?: string;
  /** Opaque token for the next page; absent on the last page. */
  continue?: string;
  remainingItemCount?: number;
  [field: string]: unknown;
}

/** A list response such as `ConfigMapList`. */
export interface List<T extends KubeObject = KubeObject> {
  apiVersion: string;
  kind: string;
  metadata: ListMeta;
  items: T[];
}
