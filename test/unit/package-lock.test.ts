/**
 * The lock file describes the package as package.json does, so that `npm install` on a fresh clone leaves the tree
 * clean (npm rewrites a lock whose root entry is stale, e.g. a `bin` added to package.json only).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";

/** The repository root: dist/test/unit/ -> ../../../ */
const root = new URL("../../../", import.meta.url);

async function json(name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(new URL(name, root), "utf8")) as Record<string, unknown>;
}

describe("package-lock.json", () => {
  it("has the root package's name, version, engines, bin and dependencies as package.json has them", async () => {
    const pkg = await json("package.json");
    const lock = await json("package-lock.json");
    const rootEntry = (lock.packages as Record<string, Record<string, unknown>>)[""] ?? {};
    for (const field of ["name", "version", "license", "engines", "bin", "dependencies", "devDependencies"]) {
      assert.deepEqual(rootEntry[field], pkg[field], `package-lock.json's root "${field}" differs: run npm install`);
    }
    assert.equal(lock.name, pkg.name);
    assert.equal(lock.version, pkg.version);
  });
});
