/**
 * Every optional field of an options type in the public API accepts `undefined`, so that a caller compiling with
 * `exactOptionalPropertyTypes` can pass a value that may be missing (`{ timeoutMs: maybe }`) without a spread. Read off
 * the API reports, which API Extractor makes from the shipped declarations.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../../", import.meta.url));

/** The optional fields, one per line, of each interface whose name says it is input: options, requests, selections. */
function optionalInputFields(report: string): { type: string; line: string }[] {
  const found: { type: string; line: string }[] = [];
  let current: string | undefined;
  for (const line of report.split("\n")) {
    const start = line.match(/^export interface (\w+)/);
    if (start) current = /(Options|Request|Selection|Init)$/.test(start[1] ?? "") ? start[1] : undefined;
    else if (line === "}") current = undefined;
    else if (current && /^ {4}readonly \w+\?: .*;$/.test(line)) found.push({ type: current, line: line.trim() });
  }
  return found;
}

describe("public options types", () => {
  it("accept undefined in every optional field", async () => {
    let checked = 0;
    for (const name of ["kindwatch.api.md", "kindwatch-testing.api.md"]) {
      const fields = optionalInputFields(await readFile(`${root}api/${name}`, "utf8"));
      checked += fields.length;
      const refusing = fields.filter((f) => !/\| undefined;$/.test(f.line)).map((f) => `${f.type}: ${f.line}`);
      assert.deepEqual(refusing, [], `${name}: optional fields that refuse undefined`);
    }
    assert.ok(checked > 100, `the reports' options types were read (${checked} fields)`);
  });
});
