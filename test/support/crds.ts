/** CRD manifests, and creating, changing and removing CRDs on the test cluster through the library's transport. */
import { isNotFound, type Transport } from "../../src/http/index.js";
import type { KubeObject } from "../../src/object/types.js";
import { waitFor } from "./wait.js";

const crdsPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

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

function versionBody(v: CrdVersion): Record<string, unknown> {
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

/** Creates a CRD and waits until it is Established. */
export async function createCrd(transport: Transport, spec: CrdSpec): Promise<void> {
  await transport.json({ method: "POST", path: crdsPath, body: crdManifest(spec) });
  await waitFor(`CRD ${crdName(spec)} to be Established`, async () => {
    const crd = (await transport.json({ path: `${crdsPath}/${crdName(spec)}` })) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    return crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True");
  });
}

/** Replaces a CRD's versions (read, change, update: a conflict means someone else changed it, which tests do not). */
export async function setCrdVersions(
  transport: Transport,
  spec: CrdSpec,
  versions: readonly CrdVersion[],
): Promise<void> {
  const path = `${crdsPath}/${crdName(spec)}`;
  const crd = (await transport.json({ path })) as { spec: Record<string, unknown> };
  crd.spec.versions = versions.map(versionBody);
  await transport.json({ method: "PUT", path, body: crd });
}

/** Deletes a CRD and waits until it is gone; a CRD already gone is fine. */
export async function deleteCrd(transport: Transport, spec: CrdSpec): Promise<void> {
  const path = `${crdsPath}/${crdName(spec)}`;
  try {
    await transport.json({ method: "DELETE", path });
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  await waitFor(`CRD ${crdName(spec)} to be deleted`, async () => {
    try {
      await transport.json({ path });
      return false;
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
  });
}
