import { name, namespace } from "./meta-read.js";

/** A namespace and name; the namespace is `""` for a cluster-scoped object, as in client-go. */
export interface NamespacedName {
  namespace: string;
  name: string;
}

/**
 * The cache key of an object: `namespace/name`, or `name` when it has no namespace. Matches client-go's
 * `MetaNamespaceKeyFunc`, including its leniency: a missing name gives `""` (or `namespace/`).
 */
export function objectKey(obj: unknown): string {
  const ns = namespace(obj);
  const n = name(obj) ?? "";
  return ns ? `${ns}/${n}` : n;
}

/** Splits a key made by `objectKey`; undefined when it holds more than one `/` (client-go's "unexpected key format"). */
export function splitKey(key: string): NamespacedName | undefined {
  const parts = key.split("/");
  if (parts.length === 1) return { namespace: "", name: key };
  if (parts.length === 2) return { namespace: parts[0] as string, name: parts[1] as string };
  return undefined;
}
