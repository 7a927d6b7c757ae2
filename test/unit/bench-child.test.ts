/** The benchmarks' phased child processes: JSON results line by line, commands on stdin, failures with their output. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChildSession } from "../../bench/support/child.js";

/** A child that logs a stray line, reports, waits for "go N" on stdin, reports N doubled and exits. */
const phased = `
console.log("a library's stray log line");
console.log(JSON.stringify({ phase: "ready" }));
process.stdin.setEncoding("utf8").on("data", (d) => {
  const n = Number(d.trim().split(" ")[1]);
  console.log(JSON.stringify({ phase: "done", doubled: n * 2 }));
  process.exit(0);
});`;

describe("bench child session", () => {
  it("hands out each JSON line in turn and passes lines to the child", async () => {
    const child = new ChildSession(process.execPath, ["-e", phased]);
    try {
      assert.deepEqual(await child.next(10_000), { phase: "ready" });
      child.send("go 21");
      assert.deepEqual(await child.next(10_000), { phase: "done", doubled: 42 });
      await child.end(10_000);
    } finally {
      await child.stop();
    }
  });

  it("fails with the child's output when it exits without a result", async () => {
    const child = new ChildSession(process.execPath, ["-e", 'console.error("no kubeconfig"); process.exit(3)']);
    try {
      await assert.rejects(child.next(10_000), /exited with 3:\s+no kubeconfig/);
    } finally {
      await child.stop();
    }
  });

  it("gives up on a child that prints nothing in time", async () => {
    const child = new ChildSession(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"]);
    try {
      await assert.rejects(child.next(200), /printed no result within 200 ms/);
    } finally {
      await child.stop();
    }
  });
});
