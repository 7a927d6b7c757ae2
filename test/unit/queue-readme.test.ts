/** The README's workqueue example is examples/workqueue.ts, and it prints what the README says. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../../../", import.meta.url));

describe("README workqueue example", () => {
  it("shows exactly examples/workqueue.ts and runs it to the output it promises", async () => {
    const readme = await readFile(`${root}README.md`, "utf8");
    const example = await readFile(`${root}examples/workqueue.ts`, "utf8");
    const block = readme.match(/<!-- example: examples\/workqueue\.ts -->\n```ts\n([\s\S]*?)```/)?.[1];
    assert.equal(block, example);
    const { stdout } = await promisify(execFile)(process.execPath, [`${root}dist/examples/workqueue.js`], {
      timeout: 30_000,
    });
    assert.deepEqual(stdout.trim().split("\n"), [
      "default/web: 2 attempts",
      "default/flaky: 3 attempts",
      "default/db: 1 attempt",
    ]);
  });
});
