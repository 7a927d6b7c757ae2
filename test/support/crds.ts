/** Creating, changing and removing CRDs on the test cluster through the library's transport. */
import { isNotFound, type Transport } from "../../src/http/index.js";
import { type CrdSpec, type CrdVersion, crdManifest, crdName, versionBody } from "./crd-manifest.js";
import { waitFor } from "./wait.js";

const crdsPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

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
