/**
 * CustomResourceDefinition manifests for tests and benchmarks, as plain objects to create with any client. No runtime
 * imports: the harness's own tests use it without loading the library.
 */
import type { KubeObject } from "../../src/object/types.js";

/** One version of a CRD; what is left out is the common case of a test that does not care. */
export interface CrdVersion {
  readonly name: string;
  /** Default true. */
  readonly served?: boolean;
  /** Default false: exactly one version must be the storage one. */
  readonly storage?: boolean;
  /** The `openAPIV3Schema`; by default an object that keeps whatever fields it is given. */
  readonly schema?: Record<string, unknown>;
  /** `true`: status, and scale on `.spec.replicas` / `.status.replicas`; an object: these subresources as written. */
  readonly subresources?: boolean | Record<string, unknown>;
  readonly additionalPrinterColumns?: readonly Record<string, unknown>[];
}

/** What a test CRD looks like. */
export interface CrdSpec {
  readonly group: string;
  readonly kind: string;
  readonly plural: string;
  /** Default: the kind in lower case. */
  readonly singular?: string;
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  /** Default `Namespaced`. */
  readonly scope?: "Namespaced" | "Cluster";
  readonly versions: readonly CrdVersion[];
}

const anyObject = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
const replicasScale = { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" };

/** One entry of a CRD's `spec.versions`. */
export function versionBody(v: CrdVersion): Record<string, unknown> {
  const subresources = v.subresources === true ? { status: {}, scale: replicasScale } : v.subresources;
  return {
    name: v.name,
    served: v.served ?? true,
    storage: v.storage ?? false,
    schema: { openAPIV3Schema: v.schema ?? anyObject },
    ...(subresources ? { subresources } : {}),
    ...(v.additionalPrinterColumns ? { additionalPrinterColumns: v.additionalPrinterColumns } : {}),
  };
}

/**
 * An `openAPIV3Schema` whose top-level fields (`spec`, `status`) are objects with these properties; the server drops
 * any field the schema does not name.
 */
export function objectSchema(fields: Record<string, Record<string, unknown>>): Record<string, unknown> {
  const properties = Object.fromEntries(
    Object.entries(fields).map(([name, props]) => [name, { type: "object", properties: props }]),
  );
  return { type: "object", properties };
}

/** The CustomResourceDefinition manifest for `spec`, to create with any client. */
export function crdManifest(spec: CrdSpec): KubeObject {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: crdName(spec) },
    spec: {
      group: spec.group,
      scope: spec.scope ?? "Namespaced",
      names: {
        plural: spec.plural,
        singular: spec.singular ?? spec.kind.toLowerCase(),
        kind: spec.kind,
        ...(spec.shortNames ? { shortNames: spec.shortNames } : {}),
        ...(spec.categories ? { categories: spec.categories } : {}),
      },
      versions: spec.versions.map(versionBody),
    },
  };
}

/** The CRD's name, `plural.group`. */
export function crdName(spec: CrdSpec): string {
  return `${spec.plural}.${spec.group}`;
}
