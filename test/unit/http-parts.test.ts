/** The transport's pure parts: JSON-lines framing, Warning headers, network error classes, call scopes. */
import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { describe, it } from "node:test";
import { ApiError } from "../../src/http/errors.js";
import { JsonLineSplitter, jsonLineBatches, jsonLines } from "../../src/http/ndjson.js";
import { networkError } from "../../src/http/network.js";
import { CallScope, sleep } from "../../src/http/scope.js";
import { defaultUserAgent } from "../../src/http/useragent.js";
import { parseWarnings } from "../../src/http/warnings.js";

async function* chunks(...parts: (string | Buffer)[]): AsyncGenerator<Buffer> {
  for (const part of parts) yield Buffer.isBuffer(part) ? part : Buffer.from(part);
}

async function collect(iterable: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const value of iterable) out.push(value);
  return out;
}

describe("jsonLines", () => {
  it("yields one value a line however the bytes are chunked, skipping blank lines", async () => {
    const text = '{"type":"ADDED","n":1}\n\n{"type":"MODIFIED","n":2}\r\n  \n{"type":"DELETED","n":3}\n';
    const expected = [
      { type: "ADDED", n: 1 },
      { type: "MODIFIED", n: 2 },
      { type: "DELETED", n: 3 },
    ];
    assert.deepEqual(await collect(jsonLines(chunks(text))), expected);
    const bytes = Buffer.from(text);
    const single = Array.from(bytes, (b) => Buffer.from([b]));
    assert.deepEqual(await collect(jsonLines(chunks(...single))), expected, "one byte a chunk");
  });

  it("keeps multi-byte characters that a chunk boundary splits", async () => {
    const bytes = Buffer.from('{"name":"Grüße 🚀"}\n');
    const at = bytes.indexOf(0x9f); // inside the rocket's four bytes
    assert.deepEqual(await collect(jsonLines(chunks(bytes.subarray(0, at), bytes.subarray(at)))), [
      { name: "Grüße 🚀" },
    ]);
  });

  it("parses a whole last line without its newline, and calls a cut-off one a Network error", async () => {
    assert.deepEqual(await collect(jsonLines(chunks('{"a":1}\n{"b":2}'))), [{ a: 1 }, { b: 2 }]);
    const cut = collect(jsonLines(chunks('{"a":1}\n{"type":"ADD'), "GET /w"));
    await assert.rejects(
      cut,
      (err) => err instanceof ApiError && err.kind === "Network" && /GET \/w/.test(err.message),
    );
  });

  it("rejects a line that is not JSON", async () => {
    await assert.rejects(
      collect(jsonLines(chunks("<html>\n"))),
      (err) => err instanceof ApiError && err.kind === "Unknown" && /not JSON: <html>/.test(err.message),
    );
  });
});

describe("jsonLineBatches", () => {
  it("yields the complete lines of each chunk together, a line cut by a chunk border with its end's chunk", async () => {
    const batches = await collect(
      jsonLineBatches(chunks('{"a":1}\n{"b":2}\n{"c"', ":3}\n", '{"d":4}\n\n{"e":', "", "5}\n", "\n  \n")),
    );
    assert.deepEqual(batches, [[{ a: 1 }, { b: 2 }], [{ c: 3 }], [{ d: 4 }], [{ e: 5 }]], "never an empty batch");
  });

  it("joins a line spread over many chunks, and a whole last line without its newline", async () => {
    const line = JSON.stringify({ payload: "x".repeat(100) });
    const parts = Array.from({ length: 10 }, (_, i) => line.slice(i * 12, (i + 1) * 12));
    assert.deepEqual(await collect(jsonLineBatches(chunks(...parts.slice(0, -1), `${parts.at(-1)}\n{"z":`, "0}"))), [
      [{ payload: "x".repeat(100) }],
      [{ z: 0 }],
    ]);
  });

  it("delivers the values before a line that is not JSON, then fails", async () => {
    const seen: unknown[] = [];
    await assert.rejects(
      (async () => {
        for await (const batch of jsonLineBatches(chunks('{"a":1}\n{"b":2}\n<html>\n{"c":3}\n'))) seen.push(batch);
      })(),
      (err) => err instanceof ApiError && err.kind === "Unknown",
    );
    assert.deepEqual(seen, [[{ a: 1 }, { b: 2 }]]);
  });
});

describe("JsonLineSplitter dropping managedFields", () => {
  const managedFields = [
    {
      manager: "kubectl",
      operation: "Update",
      fieldsType: "FieldsV1",
      // Keys with brackets, braces and escaped quotes, as fieldsV1 has them.
      fieldsV1: { "f:status": { 'k:{"type":"Ready"}': { ".": {} }, "f:list[0]": {} }, "f:note": { "]}\\": {} } },
    },
  ];
  const event = (object: object) => ({ type: "MODIFIED", object });
  /** What the splitter parses from `line`, sent in chunks of `size` bytes. */
  const split = (value: unknown, size = 1 << 20): unknown[] => {
    const bytes = Buffer.from(`${JSON.stringify(value)}\n`);
    const splitter = new JsonLineSplitter("WATCH /x", { dropManagedFields: true });
    const out: unknown[] = [];
    for (let at = 0; at < bytes.length; at += size)
      assert.equal(splitter.push(bytes.subarray(at, at + size), out), undefined);
    return out;
  };

  it("cuts object.metadata.managedFields wherever it stands among metadata's fields, across chunk borders too", () => {
    const metas = [
      { annotations: { a: "1" }, managedFields, name: "first", resourceVersion: "5" },
      { name: "middle", managedFields, uid: "u" },
      { name: "last", resourceVersion: "7", managedFields },
      { managedFields },
    ];
    for (const metadata of metas) {
      const { managedFields: _, ...rest } = metadata;
      const expected = [event({ apiVersion: "v1", kind: "ConfigMap", metadata: rest, data: { k: "v" } })];
      const line = event({ apiVersion: "v1", kind: "ConfigMap", metadata, data: { k: "v" } });
      assert.deepEqual(split(line), expected);
      assert.deepEqual(split(line, 7), expected, "a line cut by chunk borders");
    }
  });

  it("leaves a managedFields key anywhere but object.metadata alone, and text that only mentions it", () => {
    const mention = JSON.stringify({ metadata: { managedFields: [] } });
    const kept = [
      // A top-level field sorted before metadata (unstructured objects are written with sorted keys).
      event({ apiVersion: "example.com/v1", data: { managedFields: [1] }, kind: "Widget", metadata: { name: "a" } }),
      event({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "b" }, spec: { managedFields: [2] } }),
      event({ kind: "Widget", metadata: { annotations: { "last-applied": mention }, name: "c" } }),
      event({ kind: "Widget", metadata: { name: "d", managedFields: null } }),
      { type: "MODIFIED", items: [{ metadata: { managedFields: [3] } }] },
    ];
    for (const line of kept) assert.deepEqual(split(line), [line]);
  });

  it("keeps managedFields unless asked", () => {
    const line = event({ kind: "Widget", metadata: { name: "a", managedFields } });
    const splitter = new JsonLineSplitter("WATCH /x");
    const out: unknown[] = [];
    splitter.push(Buffer.from(`${JSON.stringify(line)}\n`), out);
    assert.deepEqual(out, [line]);
  });
});

describe("parseWarnings", () => {
  it("reads code-299 warnings, several in a header or across headers, unescaping quotes", () => {
    assert.deepEqual(parseWarnings('299 - "v1 ComponentStatus is deprecated in v1.19+"'), [
      "v1 ComponentStatus is deprecated in v1.19+",
    ]);
    assert.deepEqual(
      parseWarnings([
        '299 - "first, with a comma", 299 kube-apiserver "say \\"hi\\"" "Mon, 02 Jan 2006 15:04:05 GMT"',
        '199 - "not persistent"',
        '299 - "third"',
      ]),
      ["first, with a comma", 'say "hi"', "third"],
    );
  });

  it("ignores absent and malformed headers", () => {
    assert.deepEqual(parseWarnings(undefined), []);
    assert.deepEqual(parseWarnings("garbage"), []);
    assert.deepEqual(parseWarnings('299 - "ok", nonsense'), ["ok"]);
  });
});

describe("networkError", () => {
  const server = "https://10.0.0.1:6443";
  const fail = (code: string, message = "boom") => Object.assign(new Error(message), { code });

  it("calls connection failures transient Network errors, with the server in the message", () => {
    for (const code of [
      "ECONNREFUSED",
      "ECONNRESET",
      "EPIPE",
      "ETIMEDOUT",
      "UND_ERR_SOCKET",
      "UND_ERR_CONNECT_TIMEOUT",
    ]) {
      const err = networkError(fail(code), "GET /api", server);
      assert.equal(err.kind, "Network", code);
      assert.equal(err.status, 0);
      assert.ok(err.transient, code);
      assert.ok(err.message.includes(server) && err.message.includes(code), err.message);
      assert.equal((err.cause as Error).message, "boom");
    }
  });

  it("calls TLS and DNS failures Network errors that a retry cannot cure, and says what to check", () => {
    for (const code of [
      "ERR_TLS_CERT_ALTNAME_INVALID",
      "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      "DEPTH_ZERO_SELF_SIGNED_CERT",
    ]) {
      const err = networkError(fail(code), "GET /api", server);
      assert.equal(err.kind, "Network", code);
      assert.ok(!err.transient, code);
      assert.match(err.message, /certificate-authority/);
    }
    const dns = networkError(fail("ENOTFOUND"), "GET /api", server);
    assert.ok(!dns.transient);
    assert.match(dns.message, /does not resolve/);
  });

  it("finds the code on the cause, passes ApiErrors through, and calls the rest Unknown", () => {
    const wrapped = new Error("fetch failed", { cause: fail("ECONNREFUSED") });
    assert.equal(networkError(wrapped, "GET /", server).kind, "Network");
    const api = new ApiError({ kind: "Gone", status: 410, message: "gone" });
    assert.equal(networkError(api, "GET /", server), api);
    assert.equal(networkError(new TypeError("bad"), "GET /", server).kind, "Unknown");
  });
});

describe("CallScope", () => {
  it("turns the caller's abort into an Aborted ApiError and drops its listener when disposed", () => {
    const caller = new AbortController();
    const scope = new CallScope(caller.signal, "GET /x");
    assert.equal(getEventListeners(caller.signal, "abort").length, 1);
    caller.abort(new Error("user pressed ctrl-c"));
    assert.ok(scope.signal.aborted);
    assert.equal(scope.reason.kind, "Aborted");
    assert.equal(scope.reason.request, "GET /x");
    assert.equal((scope.reason.cause as Error).message, "user pressed ctrl-c");

    const shared = new AbortController();
    const many = Array.from({ length: 50 }, () => new CallScope(shared.signal, "GET /y"));
    assert.equal(getEventListeners(shared.signal, "abort").length, 1, "one listener for fifty calls");
    for (const s of many.slice(0, 49)) s.dispose();
    shared.abort();
    assert.ok(!many[0]?.signal.aborted, "an ended call is not aborted");
    assert.equal(many[49]?.reason.kind, "Aborted", "a running call is");

    const longLived = new AbortController();
    for (let i = 0; i < 50; i++) new CallScope(longLived.signal, "GET /z").dispose();
    assert.equal(getEventListeners(longLived.signal, "abort").length, 0, "a long-lived signal keeps no listeners");
  });

  it("is aborted from the start when the caller's signal already was", () => {
    const scope = new CallScope(AbortSignal.abort(), "GET /x");
    assert.equal(scope.reason.kind, "Aborted");
  });

  it("times out with a Timeout ApiError that names the last failed attempt", async () => {
    const scope = new CallScope(undefined, "GET /slow");
    scope.lastError = new ApiError({ kind: "TooManyRequests", status: 429, message: "slow down" });
    scope.startDeadline(5);
    await assert.rejects(sleep(10_000, scope), (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.kind, "Timeout");
      assert.match(err.message, /GET \/slow did not complete within 5 ms; the last attempt failed: slow down/);
      assert.equal(err.cause, scope.lastError);
      return true;
    });
  });

  it("does not fire after the deadline was ended", async () => {
    const scope = new CallScope(undefined, "GET /watch");
    scope.startDeadline(1);
    scope.endDeadline();
    await sleep(20, scope);
    assert.ok(!scope.signal.aborted);
  });
});

describe("defaultUserAgent", () => {
  it("names kindwatch, its version, the platform in Go's words, and Node", () => {
    assert.match(defaultUserAgent, /^kindwatch\/\d+\.\d+\.\d+\S* \([a-z0-9]+\/[a-z0-9]+\) node\/v\d+/);
    assert.ok(!defaultUserAgent.includes("x64"), "amd64, as Go clients say");
  });
});
