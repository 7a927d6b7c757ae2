/** The tests' own waiting: what counts as a condition that holds, for `waitFor` and `CliProcess.until`. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliProcess } from "../support/cli.js";
import { type Condition, waitFor } from "../support/wait.js";

/** A check that answers `answers` in turn, then the last one for ever; counts its calls. */
function scripted<T extends object | true>(...answers: Condition<T>[]) {
  let calls = 0;
  const check = () => answers[Math.min(calls++, answers.length - 1)];
  return { check, calls: () => calls };
}

const quick = { timeoutMs: 300, intervalMs: 1 };

describe("waitFor", () => {
  it("polls through false, undefined and null, and resolves with the first true or object", async () => {
    const found = { name: "a" };
    const objects = scripted<{ name: string }>(false, undefined, null, found, { name: "b" });
    assert.equal(await waitFor("an object", objects.check, quick), found);
    assert.equal(objects.calls(), 4);
    const flags = scripted<true>(false, null, true);
    assert.equal(await waitFor("true", flags.check, quick), true);
    assert.equal(flags.calls(), 3);
    const list: string[] = [];
    assert.equal(await waitFor("an empty array is an object", () => list, quick), list);
  });

  it("refuses numbers and strings: 0, '' and NaN are neither done nor not yet", async () => {
    for (const answer of [0, "", Number.NaN, 1, "yes"]) {
      // @ts-expect-error a count or a match must be compared, not returned
      const waiting = waitFor("a primitive", () => answer, quick);
      await assert.rejects(waiting, (err: Error) => {
        assert.ok(err instanceof TypeError, err.message);
        assert.match(err.message, new RegExp(`^a condition answered ${typeof answer} ${String(answer)}:`));
        return true;
      });
    }
  });

  it("retries a check that throws, and names its last error when the deadline passes", async () => {
    let calls = 0;
    const started = Date.now();
    await assert.rejects(
      waitFor(
        "the thing",
        () => {
          calls++;
          if (calls % 2 === 0) return false;
          throw new Error(`attempt ${calls} failed`);
        },
        { timeoutMs: 100, intervalMs: 5 },
      ),
      /^Error: timed out after 100 ms waiting for the thing: last error: attempt \d+ failed$/,
    );
    assert.ok(Date.now() - started >= 100, "not before the deadline");
    assert.ok(calls > 2, `polled ${calls} times`);
    const recovering = scripted<true>(undefined, true);
    let thrown = false;
    const value = await waitFor(
      "a check that recovers",
      () => {
        if (!thrown) {
          thrown = true;
          throw new Error("not yet");
        }
        return recovering.check();
      },
      quick,
    );
    assert.equal(value, true);
  });
});

describe("CliProcess.until", () => {
  let dir: string;
  let script: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kindwatch-until-"));
    script = join(dir, "print.mjs");
    // Prints its arguments one line at a time, then stays up until signalled, or exits at once with "exit".
    await writeFile(
      script,
      `const args = process.argv.slice(2);
       for (const [i, line] of args.entries()) setTimeout(() => line === "exit" ? process.exit(3) : console.log(line), 20 * i);
       setInterval(() => {}, 1000);`,
    );
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("resolves with what the check finds once the output holds it", async () => {
    const p = new CliProcess(["first", "second"], { script });
    try {
      const lines = await p.until("the second line", (q) => q.lines().includes("second") && q.lines());
      assert.deepEqual(lines, ["first", "second"]);
    } finally {
      await p.stop("SIGKILL");
    }
  });

  it("fails at once with the output when the process exits before the check holds", async () => {
    const p = new CliProcess(["early", "exit"], { script });
    const started = Date.now();
    await assert.rejects(
      p.until("a line that never comes", (q) => q.lines().includes("late")),
      /^Error: kindwatch exited 3 before a line that never comes\nstdout:\nearly\n/,
    );
    assert.ok(Date.now() - started < 5000, "not at the deadline");
  });
});
