/** The AI-model operator's CRDs on a test cluster: applied from `deploy/crds/`, as users apply them. */
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { applyManifest, type DynamicClient, type KindMapper } from "../../src/client/index.js";

/** `deploy/crds/` of the repository (tests run from `dist/test/`). */
export const operatorCrdsDir = fileURLToPath(new URL("../../../deploy/crds/", import.meta.url));

/** Applies every CRD of `deploy/crds/` (server-side, idempotent) and waits until each is Established and served. */
export async function installOperatorCrds(client: DynamicClient, mapper: KindMapper): Promise<void> {
  const files = (await readdir(operatorCrdsDir)).filter((f) => f.endsWith(".yaml")).sort();
  const text = (await Promise.all(files.map((f) => readFile(`${operatorCrdsDir}${f}`, "utf8")))).join("\n---\n");
  await applyManifest(client, mapper, text, { fieldManager: "kindwatch-tests", force: true });
}
