/**
 * The demo's CustomResourceDefinitions: the operator's (deploy/crds) and the demo's own (demo/crds, demo/later), read
 * from the YAML files a user can `kubectl apply -f`, installed through kindwatch's own client, and waited for until
 * the server serves them.
 */
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parse, parseAllDocuments } from "yaml";
import { type Cluster, isEstablished, isNotFound, type KubeObject } from "../src/index.js";
import { waitFor } from "../test/support/wait.js";

/** The API of CustomResourceDefinitions. */
export const crdApi = { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" };

/** The folder of the YAML files (in the repository, not in `dist`). */
const sources = fileURLToPath(new URL("../../demo/", import.meta.url));

/** The operator's CRDs as shipped (in the repository, not in `dist`). */
const operatorSources = fileURLToPath(new URL("../../deploy/crds/", import.meta.url));

/** Reads the operator's CRDs from `deploy/crds/*.yaml` (multi-document files, as the chart ships them). */
export async function readOperatorCrds(): Promise<KubeObject[]> {
  const files = (await readdir(operatorSources)).filter((f) => f.endsWith(".yaml")).sort();
  const texts = await Promise.all(files.map((f) => readFile(`${operatorSources}${f}`, "utf8")));
  return texts.flatMap((t) =>
    parseAllDocuments(t)
      .map((d) => d.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => o?.kind === "CustomResourceDefinition"),
  );
}

/** Reads every CRD in `demo/FOLDER/*.yaml`, sorted by file name. */
export async function readCrds(folder: "crds" | "later"): Promise<KubeObject[]> {
  const dir = `${sources}${folder}/`;
  const files = (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort();
  return Promise.all(files.map(async (f) => parse(await readFile(`${dir}${f}`, "utf8")) as KubeObject));
}

/** Creates `crd` (or replaces an older copy's spec) and waits until it is established. */
export async function installCrd(cluster: Cluster, crd: KubeObject): Promise<void> {
  const crds = cluster.resource(crdApi);
  const name = crd.metadata.name ?? "";
  try {
    const existing = await crds.get(name);
    await crds.update({ ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata.resourceVersion } });
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await crds.create(crd);
  }
  await waitFor(`CRD ${name} to be established`, async () => isEstablished(await crds.get(name)));
}

/** Deletes the CRD `name` (and so all its objects) and waits until it is gone. */
export async function removeCrd(cluster: Cluster, name: string): Promise<void> {
  const crds = cluster.resource(crdApi);
  try {
    await crds.delete(name);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  await waitFor(
    `CRD ${name} to be deleted`,
    async () => {
      try {
        await crds.get(name);
        return false;
      } catch (e) {
        if (isNotFound(e)) return true;
        throw e;
      }
    },
    { timeoutMs: 60_000 },
  );
}
