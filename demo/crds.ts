/**
 * The demo's CustomResourceDefinitions: read from the YAML files beside this folder (the same files a user can
 * `kubectl apply -f`), installed through kindwatch's own client, and waited for until the server serves them.
 */
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { type Cluster, isMap, isNotFound, type KubeObject } from "../src/index.js";

/** The API of CustomResourceDefinitions. */
export const crdResource = { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" };

/** The folder of the YAML files (in the repository, not in `dist`). */
const sources = fileURLToPath(new URL("../../demo/", import.meta.url));

/** Reads every CRD in `demo/FOLDER/*.yaml`, sorted by file name. */
export async function readCrds(folder: "crds" | "later"): Promise<KubeObject[]> {
  const dir = `${sources}${folder}/`;
  const files = (await readdir(dir)).filter((f) => f.endsWith(".yaml")).sort();
  return Promise.all(files.map(async (f) => parse(await readFile(`${dir}${f}`, "utf8")) as KubeObject));
}

function established(crd: KubeObject): boolean {
  const conditions = isMap(crd.status) ? crd.status.conditions : undefined;
  return (
    Array.isArray(conditions) && conditions.some((c) => isMap(c) && c.type === "Established" && c.status === "True")
  );
}

/** Polls `check` every 100 ms until it is true, or throws `what` after `ms`. */
export async function until(what: string, ms: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Creates `crd` (or replaces an older copy's spec) and waits until it is established. */
export async function installCrd(cluster: Cluster, crd: KubeObject): Promise<void> {
  const crds = cluster.resource(crdResource);
  const name = crd.metadata.name ?? "";
  try {
    const existing = await crds.get(name);
    await crds.update({ ...crd, metadata: { ...crd.metadata, resourceVersion: existing.metadata.resourceVersion } });
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await crds.create(crd);
  }
  await until(`CRD ${name} to be established`, 30_000, async () => established(await crds.get(name)));
}

/** Deletes the CRD `name` (and so all its objects) and waits until it is gone. */
export async function removeCrd(cluster: Cluster, name: string): Promise<void> {
  const crds = cluster.resource(crdResource);
  try {
    await crds.delete(name);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  await until(`CRD ${name} to be deleted`, 60_000, async () => {
    try {
      await crds.get(name);
      return false;
    } catch (e) {
      if (isNotFound(e)) return true;
      throw e;
    }
  });
}
