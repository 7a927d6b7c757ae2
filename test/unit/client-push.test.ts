/**
 * The push path of a watch body: each network read split, parsed and decoded straight into events
 * (`ResourceClient.watchPush`), and the flow control on top of it: the watch generator and the informer pause the stream
 * while their consumer is behind, and resume it once it has caught up. The transport is replaced by scripted streams
 * that hold what they are sent while paused, as a socket does: no server logic, only bytes in reads.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { WatchEvent } from "../../src/client/options.js";
import { ResourceClient } from "../../src/client/resource.js";
import { ApiError } from "../../src/http/errors.js";
import type { StreamResponse, StreamSink, Transport } from "../../src/http/transport.js";
import type { KubeObject } from "../../src/object/types.js";
import { waitFor } from "../support/wait.js";

/** A watch response whose reads the test sends; while paused, reads wait, in order, for resume(). */
class ScriptedStream implements StreamResponse {
  readonly status = 200;
  readonly headers = {};
  pauses = 0;
  resumes = 0;
  closed = false;
  #sink: StreamSink | undefined;
  #paused = false;
  readonly #held: (() => void)[] = [];

  get body(): AsyncIterable<Buffer> {
    throw new Error("the push path must not iterate the body");
  }

  subscribe(sink: StreamSink): void {
    this.#sink = sink;
    this.#flow();
  }

  pause(): void {
    if (!this.#paused) this.pauses++;
    this.#paused = true;
  }

  resume(): void {
    if (this.#paused) this.resumes++;
    this.#paused = false;
    this.#flow();
  }

  close(): void {
    this.closed = true;
  }

  /** Whether reads are held back now. */
  get paused(): boolean {
    return this.#paused;
  }

  /** One network read. */
  read(text: string | Buffer): this {
    const chunk = typeof text === "string" ? Buffer.from(text) : text;
    return this.#offer(() => this.#sink?.data(chunk));
  }

  end(): this {
    return this.#offer(() => this.#sink?.end());
  }

  #offer(step: () => void): this {
    this.#held.push(step);
    this.#flow();
    return this;
  }

  #flow(): void {
    while (this.#sink && !this.#paused && !this.closed && this.#held.length > 0) this.#held.shift()?.();
  }
}

/** A transport that answers every watch with a new {@link ScriptedStream} and every list with `list`. */
function scripted(list: unknown = { metadata: { resourceVersion: "1" }, items: [] }) {
  const streams: ScriptedStream[] = [];
  const transport = {
    recovery: undefined,
    stream: async () => {
      const stream = new ScriptedStream();
      streams.push(stream);
      return stream;
    },
    json: async () => structuredClone(list),
  } as unknown as Transport;
  const client = new ResourceClient(transport, { group: "", version: "v1", resource: "configmaps" });
  return { client, streams };
}

const line = (type: string, name: string, rv: string, extra: object = {}) =>
  `${JSON.stringify({ type, object: { kind: "ConfigMap", metadata: { name, namespace: "ns", resourceVersion: rv }, ...extra } })}\n`;

const names = (batch: readonly WatchEvent[]) =>
  batch.map((e) => (e.type === "ERROR" ? `ERROR ${e.error.kind}` : `${e.type} ${e.object.metadata.name}`));

/** What a pushed watch gave its sink: the batches of events as short strings, and how it ended. */
function recording(client: ResourceClient) {
  const batches: string[][] = [];
  let ended: string | undefined;
  const sub = client.watchPush(
    {},
    {
      events: (batch) => void batches.push(names(batch)),
      end: () => {
        ended = "end";
      },
      error: (err) => {
        ended = `${err.kind}: ${err.message}`;
      },
    },
  );
  return { batches, sub, ended: () => ended };
}

describe("watchPush: decoding reads", () => {
  it("joins a line cut across reads, also inside a multi-byte character, and decodes it once it is whole", async () => {
    const { client, streams } = scripted();
    const { batches, ended } = recording(client);
    await waitFor("the stream", () => streams.length === 1);
    const stream = streams[0] as ScriptedStream;
    const bytes = Buffer.from(line("ADDED", "é-one", "2") + line("MODIFIED", "two", "3"));
    const inChar = bytes.indexOf(Buffer.from("é")) + 1;
    stream.read(bytes.subarray(0, inChar)).read(bytes.subarray(inChar, inChar + 10));
    assert.deepEqual(batches, [], "no event before its line is whole");
    stream.read(bytes.subarray(inChar + 10)).end();
    assert.deepEqual(batches, [["ADDED é-one", "MODIFIED two"]]);
    assert.equal(ended(), "end");
  });

  it("gives the many events of one read together, in order, in one call", async () => {
    const { client, streams } = scripted();
    const { batches } = recording(client);
    await waitFor("the stream", () => streams.length === 1);
    const many = Array.from({ length: 200 }, (_, i) => line(i % 2 ? "MODIFIED" : "ADDED", `o${i}`, `${i + 2}`));
    streams[0]?.read(many.join("") + line("DELETED", "last", "999").slice(0, 20));
    assert.equal(batches.length, 1, "one read, one batch");
    assert.equal(batches[0]?.length, 200);
    assert.equal(batches[0]?.[0], "ADDED o0");
    assert.equal(batches[0]?.[199], "MODIFIED o199");
  });

  it("fails on a broken line after the events before it, and delivers nothing after it", async () => {
    const { client, streams } = scripted();
    const { batches, ended } = recording(client);
    await waitFor("the stream", () => streams.length === 1);
    const stream = streams[0] as ScriptedStream;
    stream.read(`${line("ADDED", "a", "2")}<html>oops\n${line("ADDED", "b", "3")}`).read(line("ADDED", "c", "4"));
    assert.deepEqual(batches, [["ADDED a"]]);
    assert.match(
      ended() ?? "",
      /^Unknown: WATCH \/api\/v1\/configmaps: the stream sent a line that is not JSON: <html>/,
    );
    assert.equal(stream.closed, true, "the broken stream is closed");
  });

  it("fails with a Network error when the stream ends in the middle of a line", async () => {
    const { client, streams } = scripted();
    const { batches, ended } = recording(client);
    await waitFor("the stream", () => streams.length === 1);
    streams[0]?.read(line("ADDED", "a", "2") + line("ADDED", "b", "3").slice(0, 30)).end();
    assert.deepEqual(batches, [["ADDED a"]]);
    assert.match(ended() ?? "", /^Network: .*ended in the middle of a line/);
  });

  it("hears nothing more once closed, and closes the response", async () => {
    const { client, streams } = scripted();
    const { batches, sub, ended } = recording(client);
    await waitFor("the stream", () => streams.length === 1);
    const stream = streams[0] as ScriptedStream;
    stream.read(line("ADDED", "a", "2"));
    sub.close();
    stream.read(line("ADDED", "b", "3")).end();
    assert.deepEqual(batches, [["ADDED a"]]);
    assert.equal(ended(), undefined);
    assert.equal(stream.closed, true);
  });
});

describe("watchPush: backpressure", () => {
  it("the watch generator pauses the stream while a read waits to be taken, and resumes when asked for more", async () => {
    const { client, streams } = scripted();
    const watch = client.watchBatches();
    const first = watch.next();
    await waitFor("the stream", () => streams.length === 1);
    const stream = streams[0] as ScriptedStream;
    stream.read(line("ADDED", "a", "2"));
    assert.deepEqual(names((await first).value as WatchEvent[]), ["ADDED a"]);
    stream.read(line("ADDED", "b", "3")).read(line("ADDED", "c", "4"));
    assert.equal(stream.paused, true, "a read not taken pauses the stream");
    assert.deepEqual(names((await watch.next()).value as WatchEvent[]), ["ADDED b"]);
    assert.deepEqual(names((await watch.next()).value as WatchEvent[]), ["ADDED c"]);
    assert.ok(stream.resumes >= 1, "asking for more resumed it");
    stream.end();
    assert.equal((await watch.next()).done, true);
  });

  it("the informer pauses the watch while a handler is behind by its backlog, resumes it, and loses nothing", async () => {
    const { client, streams } = scripted();
    const informer = new Informer(listWatchOf(client), { streamingList: false, maxHandlerBacklog: 5, logger: "none" });
    const handled: string[] = [];
    const waiting: (() => void)[] = [];
    informer.addHandlers({
      add: (o) =>
        new Promise<void>((resolve) => {
          waiting.push(() => {
            handled.push(o.metadata.name as string);
            resolve();
          });
        }),
    });
    informer.start();
    try {
      await informer.synced(AbortSignal.timeout(2000));
      await waitFor("the watch", () => streams.length === 1);
      const stream = streams[0] as ScriptedStream;
      for (let i = 0; i < 40; i++) stream.read(line("ADDED", `o${i}`, `${i + 2}`));
      assert.equal(stream.paused, true, "a handler five objects behind pauses the watch");
      const stored = informer.store.size;
      assert.ok(stored <= 6, `the watch stopped at the handler's backlog: ${stored} objects read`);
      // The handler catches up one object at a time.
      await waitFor(
        "every object handled",
        () => {
          waiting.shift()?.();
          return handled.length === 40;
        },
        { timeoutMs: 5000, intervalMs: 1 },
      );
      assert.deepEqual(
        handled,
        Array.from({ length: 40 }, (_, i) => `o${i}`),
      );
      assert.equal(informer.store.size, 40);
      assert.ok(stream.pauses >= 2 && stream.resumes >= 2, `paused ${stream.pauses}, resumed ${stream.resumes}`);
      assert.equal(stream.paused, false);
    } finally {
      await informer.stop();
    }
  });

  it("a stream paused for the consumer is not taken for a silent one by the idle timeout", async () => {
    const { client, streams } = scripted();
    const informer = new Informer(listWatchOf(client), {
      streamingList: false,
      maxHandlerBacklog: 1,
      idleTimeoutMs: 100,
      logger: "none",
    });
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    informer.addHandlers({ add: () => held });
    informer.start();
    try {
      await informer.synced(AbortSignal.timeout(2000));
      await waitFor("the watch", () => streams.length === 1);
      streams[0]?.read(line("ADDED", "a", "2")).read(line("ADDED", "b", "3"));
      assert.equal(streams[0]?.paused, true);
      await new Promise((resolve) => setTimeout(resolve, 400)); // four idle timeouts while the handler holds
      assert.equal(streams.length, 1, "the paused watch was not reopened");
      release();
      await waitFor("b stored", () => informer.store.size === 2);
    } finally {
      await informer.stop();
    }
  });
});

describe("watchPush: errors", () => {
  it("gives the request's failure to the sink", async () => {
    const transport = {
      recovery: undefined,
      stream: async () => {
        throw new ApiError({ kind: "Forbidden", status: 403, message: "no" });
      },
    } as unknown as Transport;
    const client = new ResourceClient<KubeObject>(transport, { group: "", version: "v1", resource: "configmaps" });
    const { ended } = recording(client);
    await waitFor("the failure", () => ended() !== undefined);
    assert.equal(ended(), "Forbidden: no");
  });
});
