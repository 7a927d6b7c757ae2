/** Sinks named by URL: file URLs and `-`, and one-line errors for the rest. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/config/errors.js";
import { FileSink, sinkFromUrl } from "../../src/sinks/index.js";

describe("sinkFromUrl", () => {
  it("makes the file sink of file:///path and -", () => {
    const file = sinkFromUrl("file:///var/lib/kindwatch/events%20log.ndjson");
    assert.ok(file instanceof FileSink);
    assert.equal(file.name, "file /var/lib/kindwatch/events log.ndjson");
    assert.equal(sinkFromUrl("-").name, "file stdout");
  });

  it("refuses what names no sink, in one line", () => {
    for (const [url, message] of [
      ["events.ndjson", "sink events.ndjson is not a URL: use file:///path/events.ndjson or - for stdout"],
      ["gopher://x/y", "sink gopher://x/y: no sink for gopher:// (use file://, -)"],
      ["file://host/x", "sink file://host/x: a file URL has no host: file:///path/to/events.ndjson"],
    ] as const) {
      assert.throws(
        () => sinkFromUrl(url),
        (err: unknown) => err instanceof ConfigError && err.message === message,
      );
    }
  });
});
