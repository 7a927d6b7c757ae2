/** `npm run deploy:render`: writes deploy/kindwatch.yaml, the chart rendered with its default values. */
import { writeFile } from "node:fs/promises";
import { plainManifestPath, renderPlainManifest } from "../test/support/helm.js";

await writeFile(plainManifestPath, await renderPlainManifest());
console.log(`wrote ${plainManifestPath}`);
