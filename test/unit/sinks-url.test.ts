/** Sinks named by URL (file, -, http(s), nats, kafka) and their options, and one-line errors for misuse. */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError } from "../../src/config/errors.js";
import { HttpSink } from "../../src/sinks/http.js";
import { FileSink, sinkFromUrl } from "../../src/sinks/index.js";
import { KafkaSink } from "../../src/sinks/kafka.js";

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
      [
        "gopher://x/y",
        "sink gopher://x/y: no sink for gopher:// (use file://, http://, https://, nats://, kafka://, -)",
      ],
      ["file://host/x", "sink file://host/x: a file URL has no host: file:///path/to/events.ndjson"],
    ] as const) {
      assert.throws(
        () => sinkFromUrl(url),
        (err: unknown) => err instanceof ConfigError && err.message === message,
      );
    }
  });
});

describe("sinkFromUrl: HTTP, NATS and Kafka", () => {
  const dir = mkdtempSync(join(tmpdir(), "sinks-url-"));
  const headers = join(dir, "headers");
  writeFileSync(headers, "X-Api-Key: s3cret\n");
  const token = join(dir, "token");
  writeFileSync(token, "t0ken\n");
  const refuses = (url: string, message: string, options?: Record<string, string>) =>
    assert.throws(
      () => sinkFromUrl(url, { options }),
      (err: unknown) => err instanceof ConfigError && err.message === message,
      url,
    );

  it("makes the HTTP sink with its options from --sink-option; the query stays the receiver's", async () => {
    const sink = sinkFromUrl("http://127.0.0.1:9/in?tenant=a", { options: { mode: "batch", batch: "25" } });
    try {
      assert.ok(sink instanceof HttpSink);
      assert.equal(sink.name, "http http://127.0.0.1:9/in");
      assert.equal(sink.maxBatch, 25);
    } finally {
      await sink.close();
    }
    const binary = sinkFromUrl("https://example.com/events", { options: { "headers-file": headers } });
    try {
      assert.equal(binary.maxBatch, 1);
    } finally {
      await binary.close();
    }
  });

  it("makes the NATS sink of a server list, with subject and stream from the query or options", async () => {
    const sink = sinkFromUrl("nats://127.0.0.1:4222,127.0.0.1:4223?subject=kw.{resource}&stream=KW", {
      options: { batch: "7", "token-file": token },
    });
    try {
      assert.equal(sink.name, "nats nats://127.0.0.1:4222,nats://127.0.0.1:4223 kw.{resource} stream KW");
      assert.equal(sink.maxBatch, 7);
    } finally {
      await sink.close();
    }
  });

  it("makes the Kafka sink of a broker list, the topic from the path or the query", async () => {
    const byPath = sinkFromUrl("kafka://b1:9092,b2:9093/changes", { options: { batch: "50" } });
    const byQuery = sinkFromUrl("kafka://b1:9092?topic=other&mode=structured");
    try {
      assert.ok(byPath instanceof KafkaSink);
      assert.equal(byPath.name, "kafka b1:9092,b2:9093/changes");
      assert.equal(byPath.maxBatch, 50);
      assert.equal(byQuery.name, "kafka b1:9092/other");
    } finally {
      await byPath.close();
      await byQuery.close();
    }
  });

  it("refuses each misuse in one line that says what to write", () => {
    refuses(
      "https://user:pw@example.com/x",
      "sink https://…: credentials do not go in the URL (it is logged): use --sink-option headers-file=PATH",
    );
    refuses(
      "nats://u:p@h:4222",
      "sink nats://…: credentials do not go in the URL (it is logged): use --sink-option creds-file=PATH or token-file=PATH",
    );
    refuses("http://a:1,b:2/x", "sink http://a:1,b:2/x: only nats:// and kafka:// URLs take several hosts");
    refuses("nats:///x", "sink nats:///x: no host; e.g. nats://host:4222?stream=KINDWATCH");
    refuses(
      "nats://h:4222/events",
      "sink nats://h:4222/events: a NATS URL has no path; name the subject in the query: nats://host:4222?subject=events.{resource}",
    );
    refuses(
      "kafka://h:9092/a/b",
      "sink kafka://h:9092/a/b: a Kafka URL's path is one topic: kafka://broker:9092/events",
    );
    refuses(
      "kafka://h:9092/a?topic=b",
      "sink kafka://h:9092/a?topic=b: the topic is given twice: in the path or as topic=, not both",
    );
    refuses("kafka://h:9092/t", "sink kafka://h:9092/t: mode=batch: use binary, structured", { mode: "batch" });
    refuses("http://h/x", "sink http://h/x: batch=0: use a positive integer", { batch: "0" });
    refuses(
      "http://h/x",
      "sink http://h/x: http takes no option stream (--sink-option); it takes mode, batch, headers-file, bearer-token-file, ca-file, cert-file, key-file, insecure-skip-verify, timeout-ms",
      { stream: "S" },
    );
    refuses("nats://h:4222?stream=A", "sink nats://h:4222?stream=A: option stream is given twice", { stream: "B" });
    refuses("nats://h:4222", `sink nats://h:4222: token-file ${join(dir, "missing")} cannot be read (ENOENT)`, {
      "token-file": join(dir, "missing"),
    });
    refuses("file:///tmp/x", "sink file:///tmp/x: a file sink takes no options", { mode: "batch" });
  });
});
