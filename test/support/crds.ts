/** Creating, changing and removing CRDs on the test cluster through the library's transport. */
import { isNotFound, type Transport } from "../../src/http/index.js";
import { waitFor } from "./wait.js";

const crdsPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/** One version of a CRD: served or not, the storage one or not, with status and scale subresources when asked. */
export interface CrdVersion {
  readonly name: string;
  readonly served?: boolean;
  readonly storage?: boolean;
  readonly subresources?: boolean;
}

/** What a test CRD looks like. */
export interface CrdSpec {
  readonly group: string;
  readonly kind: string;
  readonly plural: string;
  readonly singular?: string;
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  readonly scope?: "Namespaced" | "Cluster";
  readonly versions: readonly CrdVersion[];
}

function versionBody(v: CrdVersion): unknown {
  return {
    name: v.name,
    served: v.served ?? true,
    storage: v.storage ?? false,
    schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
    ...(v.subresources
      ? {
          subresources: {
            status: {},
            scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas" },
          },
        }
      : {}),
  };
}

/** The CRD's name, `plural.group`. */
export function crdName(spec: CrdSpec): string {
  return `${spec.plural}.${spec.group}`;
}

/** Creates a CRD and waits until it is Established. */
export async function createCrd(transport: Transport, spec: CrdSpec): Promise<void> {
  await transport.json({
    method: "POST",
    path: crdsPath,
    body: {
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
    },
  });
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
