/**
 * What `npm pack` ships: every source map's sources are in the package too, so that stack traces and "go to
 * definition" in a user's editor land in the TypeScript source rather than on a path that is not there.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { posix } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { goModuleFiles } from "../../src/testing/binaries.js";

/** The repository root: dist/test/unit/ -> ../../../ */
const root = new URL("../../../", import.meta.url);

/** The paths `npm pack` would put in the tarball, relative to the package root. */
async function packedFiles(): Promise<Set<string>> {
  const { stdout } = await promisify(execFile)("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: fileURLToPath(root),
    maxBuffer: 64 * 1024 * 1024,
  });
  const [pack] = JSON.parse(stdout) as { files: { path: string }[] }[];
  assert.ok(pack, "npm pack described no package");
  return new Set(pack.files.map((f) => f.path));
}

describe("the packed package", () => {
  it("ships the Go modules the test cluster is built from, and KWOK's Stages", async () => {
    const files = await packedFiles();
    const missing = [...goModuleFiles, "kwok/stages.yaml"].map((f) => `test/cluster/${f}`).filter((f) => !files.has(f));
    assert.deepEqual(missing, [], "package.json's files leaves out what ensureBinaries and the full plane read");
  });

  it("ships the source of every source map, and a declaration map beside every declaration", async () => {
    const files = await packedFiles();
    const maps = [...files].filter((f) => f.endsWith(".map"));
    assert.ok(
      maps.some((m) => m.endsWith(".d.ts.map")) && maps.some((m) => m.endsWith(".js.map")),
      "both kinds of map are shipped",
    );
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot } = JSON.parse(await readFile(new URL(map, root), "utf8")) as {
        sources: string[];
        sourceRoot?: string;
      };
      for (const source of sources) {
        const path = posix.normalize(posix.join(posix.dirname(map), sourceRoot ?? "", source));
        if (!files.has(path)) missing.push(`${map} -> ${path}`);
      }
    }
    assert.deepEqual(missing, [], "map sources not in the package (a stale dist/? npm run clean && npm run build)");
    const declarations = [...files].filter((f) => f.endsWith(".d.ts"));
    assert.deepEqual(
      declarations.filter((d) => !files.has(`${d}.map`)),
      [],
      "declarations without a declaration map",
    );
  });
});
