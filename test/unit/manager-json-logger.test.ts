/** jsonLogger: one JSON object per line, pino's shape with the level as a word, lines below the level dropped. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { jsonLogger } from "../../src/manager/json-logger.js";

function capture(level?: "info" | "warn" | "error") {
  const lines: string[] = [];
  const log = jsonLogger({ level, destination: { write: (text: string) => lines.push(text) } });
  return { lines, log };
}

describe("jsonLogger", () => {
  it("writes each message as one JSON line: level, time, msg and the fields, nothing else", () => {
    const { lines, log } = capture();
    const before = Date.now();
    log("warn", "reconcile failed", { controller: "widgets", name: "w1", error: "boom\nsecond line" });
    assert.equal(lines.length, 1);
    const [line = ""] = lines;
    assert.ok(line.endsWith("\n") && !line.slice(0, -1).includes("\n"), "one line, newline included");
    const parsed = JSON.parse(line) as Record<string, unknown>;
    assert.ok(typeof parsed.time === "number" && parsed.time >= before);
    assert.deepEqual(
      { ...parsed, time: 0 },
      {
        level: "warn",
        time: 0,
        controller: "widgets",
        name: "w1",
        error: "boom\nsecond line",
        msg: "reconcile failed",
      },
    );
  });

  it("drops what is below its level (default info)", () => {
    const warn = capture("warn");
    warn.log("info", "quiet");
    warn.log("error", "loud");
    assert.deepEqual(
      warn.lines.map((l) => (JSON.parse(l) as { msg: string }).msg),
      ["loud"],
    );
    const info = capture();
    info.log("info", "heard");
    assert.equal(info.lines.length, 1);
  });
});
