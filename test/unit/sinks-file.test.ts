/** The file sink: NDJSON appended to a file (half a line left by a crash is cut off), or written to a stream. */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { CloudEventMaker } from "../../src/sinks/cloudevent.js";
import { FileSink } from "../../src/sinks/file.js";
import { type Delivery, SinkError } from "../../src/sinks/types.js";
import type { ObjectEvent } from "../../src/watchall/types.js";

const maker = new CloudEventMaker({ clusterName: "c" });

function delivery(name: string, rv: string): Delivery {
  const e: ObjectEvent = {
    type: "ADDED",
    origin: "live",
    group: "example.com",
    version: "v1",
    kind: "Widget",
    resource: "widgets",
    namespaced: true,
    namespace: "ns",
    name,
    resourceVersion: rv,
    object: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name, namespace: "ns", uid: `u-${name}` } },
  };
  return maker.make(e, new Date("2026-01-01T00:00:00Z"));
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "");
const signal = new AbortController().signal;

describe("FileSink", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kindwatch-filesink-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("appends one structured CloudEvent a line, batch after batch, across sinks", async () => {
    const path = join(dir, "events.ndjson");
    const sink = new FileSink({ path });
    assert.equal(sink.name, `file ${path}`);
    await sink.send([delivery("a", "1"), delivery("b", "2")], signal);
    await sink.send([delivery("c", "3")], signal);
    await sink.close();
    const again = new FileSink({ path });
    await again.send([delivery("d", "4")], signal);
    await again.close();
    const got = lines(await readFile(path, "utf8")).map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      got.map((e) => e.id),
      ["u-a/1", "u-b/2", "u-c/3", "u-d/4"],
    );
    assert.equal(got[0]?.specversion, "1.0");
    assert.equal(got[0]?.type, "dev.kindwatch.object.added");
    assert.deepEqual((got[0]?.data as { metadata?: unknown } | undefined)?.metadata, {
      name: "a",
      namespace: "ns",
      uid: "u-a",
    });
  });

  it("starts a new line after half a line left by a process killed mid-write", async () => {
    const path = join(dir, "torn.ndjson");
    await writeFile(path, '{"id":"whole"}\n{"id":"to');
    const sink = new FileSink({ path });
    await sink.send([delivery("a", "1")], signal);
    await sink.close();
    assert.deepEqual(lines(await readFile(path, "utf8")), [
      '{"id":"whole"}',
      '{"id":"to',
      JSON.stringify(delivery("a", "1").event),
    ]);
  });

  it("keeps concurrent batches whole", async () => {
    const path = join(dir, "concurrent.ndjson");
    const sink = new FileSink({ path });
    const batches = Array.from({ length: 20 }, (_, b) =>
      Array.from({ length: 30 }, (_, i) => delivery(`o${b}-${i}`, `${i}`)),
    );
    await Promise.all(batches.map((batch) => sink.send(batch, signal)));
    await sink.close();
    const ids = lines(await readFile(path, "utf8")).map((l) => (JSON.parse(l) as { id: string }).id);
    assert.equal(ids.length, 600);
    for (let at = 0; at < ids.length; at += 30) {
      const batch = /^u-(o\d+)-/.exec(ids[at] as string)?.[1];
      assert.ok(
        ids.slice(at, at + 30).every((id) => id.startsWith(`u-${batch}-`)),
        "a batch's lines are together",
      );
    }
  });

  it("writes to stdout for -", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    const sink = new FileSink({ path: "-", stdout: out });
    assert.equal(sink.name, "file stdout");
    await sink.send([delivery("a", "1"), delivery("b", "2")], signal);
    await sink.close();
    assert.deepEqual(
      lines(text).map((l) => (JSON.parse(l) as { id: string }).id),
      ["u-a/1", "u-b/2"],
    );
  });

  it("fails for good where the file cannot be created", async () => {
    const sink = new FileSink({ path: join(dir, "missing", "events.ndjson") });
    await assert.rejects(sink.send([delivery("a", "1")], signal), (err: unknown) => {
      assert.ok(err instanceof SinkError);
      assert.equal(err.retryable, false);
      assert.match(err.message, /^cannot open .*missing.*ENOENT/);
      return true;
    });
    await sink.close();
  });
});
