/**
 * The HTTP sink against a real loopback receiver: what each content mode delivers, how each failure maps to a
 * SinkError, timeouts and aborts, credentials from files (and their rotation), TLS.
 */
import assert from "node:assert/strict";
import { utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CloudEvent, type CloudEventV1 } from "cloudevents";
import { HttpSink, type HttpSinkOptions, retryAfterMs } from "../../src/sinks/http.js";
import { type Delivery, SinkError } from "../../src/sinks/types.js";
import { CertificateAuthority } from "../../src/testing/certs.js";
import { CeReceiver } from "../support/ce-receiver.js";
import { processTempDir } from "../support/tempdir.js";
import { outcome, waitFor } from "../support/wait.js";

const dir = processTempDir("kindwatch-sinks-http");
const open: { close(): Promise<void> }[] = [];
after(() => Promise.all(open.map((o) => o.close())));

async function receiver(options: Parameters<typeof CeReceiver.start>[0] = {}): Promise<CeReceiver> {
  const r = await CeReceiver.start(options);
  open.push(r);
  return r;
}

function sink(options: HttpSinkOptions): HttpSink {
  const s = new HttpSink(options);
  open.push(s);
  return s;
}

let serial = 0;

/** An event shaped like the exporter's, with a subject and a changed path that need percent-encoding in headers. */
function delivery(n = serial++, plain = false): Delivery {
  const attributes = {
    specversion: "1.0" as const,
    id: `uid-${n}/10${n}`,
    source: "kindwatch://test/apis/example.com/v1/namespaces/default/widgets",
    type: "dev.kindwatch.object.modified",
    subject: `default/widget-${n} "ünïcode" 100%`,
    time: new Date(Date.UTC(2026, 11, 2, 18, 0, 0, n)).toISOString(),
    datacontenttype: "application/json",
    kwgroup: "example.com",
    kwversion: "v1",
    kwkind: "Widget",
    kwresource: "widgets",
    kworigin: "live",
    kwchanged: "spec.size,metadata.labels.app",
    data: {
      kind: "Widget",
      metadata: { name: `widget-${n}`, labels: { app: "ü" } },
      spec: { size: n, list: [1, "x"] },
    },
  };
  const event: CloudEventV1<unknown> = plain ? attributes : new CloudEvent(attributes);
  return { event, key: `uid-${n}` };
}

/** The event as JSON, the form both sides agree on (the SDK normalizes `time` to ISO with milliseconds). */
function wire(event: CloudEventV1<unknown>): unknown {
  return JSON.parse(JSON.stringify(event instanceof CloudEvent ? event : new CloudEvent(event, false)));
}

function rejectsWith(
  promise: Promise<unknown>,
  expected: { retryable: boolean; retryAfterMs?: number | undefined; message?: RegExp },
): Promise<void> {
  return assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof SinkError, `a SinkError, not ${String(err)}`);
    assert.equal(err.retryable, expected.retryable, `retryable for ${err.message}`);
    assert.equal(err.retryAfterMs, expected.retryAfterMs, `retryAfterMs for ${err.message}`);
    if (expected.message) assert.match(err.message, expected.message);
    return true;
  });
}

const signal = () => AbortSignal.timeout(60_000);
/** For tests whose failure is a send that never ends: they fail instead of hanging the run. */
const bounded = { timeout: 20_000 };

describe("HttpSink content modes", () => {
  for (const mode of ["binary", "structured"] as const) {
    it(`${mode}: one event a request, attributes, extensions and data as sent, on kept-alive connections`, async () => {
      const r = await receiver();
      const s = sink({ url: r.url, mode });
      assert.equal(s.maxBatch, 1);
      const sent = [delivery(), delivery(), delivery(serial++, true), delivery(), delivery(serial++, true)];
      for (const d of sent) await s.send([d], signal());
      assert.deepEqual(
        r.events.map(wire),
        sent.map((d) => wire(d.event)),
      );
      assert.deepEqual(
        r.requests.map((q) => q.mode),
        sent.map(() => mode),
      );
      // undici may open a second connection while the first finishes its answer; beyond that, connections are reused.
      assert.ok(new Set(r.requests.map((q) => q.remotePort)).size <= 2, "connections kept alive");
      if (mode === "binary") {
        const headers = r.requests[0]?.headers ?? {};
        assert.equal(headers["ce-kwkind"], "Widget");
        assert.match(String(headers["ce-subject"]), /^default\/widget-\d+%20%22%C3%BCn%C3%AFcode%22%20100%25$/);
      }
    });
  }

  it("batch: each send is one request carrying exactly its events in order; more than maxBatch is refused", async () => {
    const r = await receiver();
    const s = sink({ url: r.url, mode: "batch", maxBatch: 100 });
    assert.equal(s.maxBatch, 100);
    const first = Array.from({ length: 100 }, (_, i) => delivery(serial++, i % 2 === 0));
    const second = Array.from({ length: 37 }, () => delivery());
    await s.send(first, signal());
    await s.send(second, signal());
    assert.deepEqual(
      r.requests.map((q) => [q.mode, q.ids]),
      [
        ["batch", first.map((d) => d.event.id)],
        ["batch", second.map((d) => d.event.id)],
      ],
    );
    assert.deepEqual(
      r.events.map(wire),
      [...first, ...second].map((d) => wire(d.event)),
    );
    await rejectsWith(s.send([...first, delivery()], signal()), { retryable: false, message: /101 events/ });
    assert.equal(r.requests.length, 2, "nothing sent of a batch too large");
  });

  it("sends in parallel each get their own answer", async () => {
    const r = await receiver();
    const s = sink({ url: r.url });
    r.schedule({ delayMs: 200 }, 5);
    const sent = Array.from({ length: 20 }, () => delivery());
    await Promise.all(sent.map((d) => s.send([d], signal())));
    assert.deepEqual(new Set(r.events.map((e) => e.id)), new Set(sent.map((d) => d.event.id)));
    assert.equal(r.requests.length, 20);
  });

  it("a send that is repeated reaches the receiver with the same ids, which it de-duplicates", async () => {
    const r = await receiver();
    const s = sink({ url: r.url, mode: "batch" });
    const batch = [delivery(), delivery()];
    await s.send(batch, signal());
    await s.send(batch, signal());
    assert.equal(r.events.length, 2);
    assert.equal(r.duplicates, 2);
  });
});

describe("HttpSink failures", () => {
  it("maps each answer to acknowledged, retryable (with Retry-After) or not", async () => {
    const r = await receiver();
    const s = sink({ url: `${r.url}?secret=s3cr3t`, mode: "structured" });
    const httpDate = new Date(Date.now() + 3_600_000).toUTCString();
    const cases: [Parameters<CeReceiver["schedule"]>[0], Parameters<typeof rejectsWith>[1] | "ack"][] = [
      [{ status: 500 }, { retryable: true, message: /: 500$/ }],
      [
        { status: 502, body: "bad gateway" },
        { retryable: true, message: /: 502: bad gateway$/ },
      ],
      [
        { status: 503, retryAfter: "7" },
        { retryable: true, retryAfterMs: 7000 },
      ],
      [
        { status: 429, retryAfter: "2" },
        { retryable: true, retryAfterMs: 2000 },
      ],
      [{ status: 408 }, { retryable: true }],
      [{ status: 404 }, { retryable: false, message: new RegExp(`^http ${r.url}: 404$`) }],
      [
        { status: 413, body: "too large" },
        { retryable: false, message: /: 413: too large$/ },
      ],
      [{ status: 401 }, { retryable: false, message: /: 401$/ }],
      [{ reset: true }, { retryable: true }],
      [{ status: 202 }, "ack"],
      [{ status: 204 }, "ack"],
    ];
    for (const [misbehaviour, expected] of cases) {
      r.schedule(misbehaviour);
      const send = s.send([delivery()], signal());
      if (expected === "ack") await send;
      else await rejectsWith(send, expected);
    }
    assert.deepEqual(
      r.requests.map((q) => q.answer),
      [500, 502, 503, 429, 408, 404, 413, 401, "reset", 202, 204],
    );
    r.schedule({ status: 429, retryAfter: httpDate });
    await assert.rejects(s.send([delivery()], signal()), (err: unknown) => {
      assert.ok(err instanceof SinkError && err.retryable && err.retryAfterMs !== undefined);
      assert.ok(err.retryAfterMs > 3_500_000 && err.retryAfterMs <= 3_600_000, `${err.retryAfterMs} ms`);
      assert.doesNotMatch(err.message, /s3cr3t/);
      return true;
    });
    await s.send([delivery()], signal());
    assert.equal(r.events.length, 3, "accepted after all that");
    assert.ok(
      r.requests.every((q) => q.url === "/events?secret=s3cr3t"),
      "the query is sent, only not shown",
    );
  });

  it("names the URL, the status and the body's first 200 characters on one line", async () => {
    const r = await receiver();
    const s = sink({ url: r.url });
    const body = `field "spec"\n is invalid: ${"x".repeat(400)}`;
    r.schedule({ status: 400, body });
    await rejectsWith(s.send([delivery()], signal()), {
      retryable: false,
      message: new RegExp(`^http ${r.url}: 400: field "spec" is invalid: x{174}$`),
    });
  });

  it("a receiver that is down is retryable, and the same sink delivers once it is back", async () => {
    const r = await receiver();
    const s = sink({ url: r.url });
    await s.send([delivery()], signal());
    await r.stop();
    await rejectsWith(s.send([delivery()], signal()), { retryable: true, message: /ECONNREFUSED/ });
    await r.restart();
    await s.send([delivery()], signal());
    assert.equal(r.events.length, 2);
  });

  it("an event that cannot be encoded is not retryable", async () => {
    const r = await receiver();
    const s = sink({ url: r.url, mode: "binary" });
    const bad = delivery();
    const event = { ...(wire(bad.event) as CloudEventV1<unknown>), subject: "\ud800" };
    await rejectsWith(s.send([{ event, key: bad.key }], signal()), { retryable: false, message: /cannot encode/ });
    assert.equal(r.requests.length, 0);
  });
});

describe("HttpSink timeouts and aborts", () => {
  it(
    "gives up a request not answered in time, retryably; a slow answer within the time is an ack",
    bounded,
    async () => {
      const r = await receiver();
      const s = sink({ url: r.url, timeoutMs: 2000 });
      r.schedule({ hang: true });
      await rejectsWith(s.send([delivery()], signal()), { retryable: true, message: /no answer within 2000 ms/ });
      r.schedule({ delayMs: 100 });
      await s.send([delivery()], signal());
      r.schedule({ delayMs: 5_000 });
      await rejectsWith(s.send([delivery()], signal()), { retryable: true, message: /no answer within 2000 ms/ });
      assert.deepEqual(
        r.requests.map((q) => q.answer),
        ["hang", 200, 200],
      );
    },
  );

  it("an aborted signal gives up the request in flight, and one aborted before sends nothing", bounded, async () => {
    const r = await receiver();
    const s = sink({ url: r.url, timeoutMs: 120_000 });
    r.schedule({ hang: true });
    const controller = new AbortController();
    const send = s.send([delivery()], controller.signal);
    const settled = outcome(send);
    await waitFor("the request at the receiver", () => r.requests.length === 1);
    assert.equal(settled(), undefined, "still waiting for the answer");
    controller.abort(new Error("shutting down"));
    await rejectsWith(send, { retryable: true, message: /aborted/ });
    await rejectsWith(s.send([delivery()], controller.signal), { retryable: true, message: /aborted/ });
    assert.equal(r.requests.length, 1);
  });

  it("close gives up a send in flight", bounded, async () => {
    const r = await receiver();
    const s = new HttpSink({ url: r.url, timeoutMs: 120_000 });
    r.schedule({ hang: true });
    const send = s.send([delivery()], signal());
    await waitFor("the request at the receiver", () => r.requests.length === 1);
    await s.close();
    await rejectsWith(send, { retryable: true });
  });
});

describe("HttpSink credentials", () => {
  it("sends the token file's token, picks up a rotated file, and keeps it out of errors", async () => {
    const r = await receiver();
    const file = join(dir, "token-rotated");
    await writeFile(file, "first-token\n");
    const s = sink({ url: r.url, bearerTokenFile: file, headers: { "X-Static": "yes" } });
    await s.send([delivery()], signal());
    await writeFile(file, "second-longer-token\n");
    await s.send([delivery()], signal());
    assert.deepEqual(
      r.requests.map((q) => [q.headers.authorization, q.headers["x-static"]]),
      [
        ["Bearer first-token", "yes"],
        ["Bearer second-longer-token", "yes"],
      ],
    );
    r.schedule({ status: 400, body: "no" });
    await assert.rejects(s.send([delivery()], signal()), (err: unknown) => {
      assert.ok(err instanceof SinkError);
      assert.doesNotMatch(`${err.message} ${s.name}`, /token/);
      return true;
    });
  });

  it("reads the file again on a 401 and resends at once with the new token", async () => {
    const r = await receiver();
    const file = join(dir, "token-401");
    // A rewrite the file's metadata does not show (same inode, size and modification time): only the 401 can tell.
    const mtime = new Date(Date.UTC(2026, 0, 1));
    await writeFile(file, "token-aaaa");
    await utimes(file, mtime, mtime);
    const s = sink({ url: r.url, bearerTokenFile: file });
    await s.send([delivery()], signal());
    await writeFile(file, "token-bbbb");
    await utimes(file, mtime, mtime);
    r.authorize((h) => h.authorization === "Bearer token-bbbb");
    const d = delivery();
    await s.send([d], signal());
    assert.deepEqual(
      r.requests.map((q) => [q.headers.authorization, q.answer]),
      [
        ["Bearer token-aaaa", 200],
        ["Bearer token-aaaa", 401],
        ["Bearer token-bbbb", 200],
      ],
    );
    assert.equal(r.events.at(-1)?.id, d.event.id);
    r.authorize(() => false);
    await rejectsWith(s.send([delivery()], signal()), { retryable: true, message: /: 401: unauthorized$/ });
  });

  it("sends a headers file's headers, and the URL's user as Basic auth without showing it", async () => {
    const r = await receiver();
    const file = join(dir, "headers");
    await writeFile(file, "X-Api-Key: k-123\r\nX-Tenant:  blue \n\n");
    const s = sink({ url: r.url, headersFile: file });
    await s.send([delivery()], signal());
    assert.equal(r.requests[0]?.headers["x-api-key"], "k-123");
    assert.equal(r.requests[0]?.headers["x-tenant"], "blue");
    const url = new URL(r.url);
    url.username = "alice";
    url.password = "pa:ss";
    url.search = "?sig=abc";
    const basic = sink({ url: url.href });
    assert.equal(basic.name, `http ${r.url}`);
    await basic.send([delivery()], signal());
    assert.equal(r.requests[1]?.headers.authorization, `Basic ${Buffer.from("alice:pa:ss").toString("base64")}`);
  });

  it("refuses a credentials file that is missing or holds nothing usable, without echoing it", async () => {
    const missing = join(dir, "missing-token");
    assert.throws(() => new HttpSink({ url: "http://127.0.0.1:1/", bearerTokenFile: missing }), /ENOENT/);
    const file = join(dir, "bad-headers");
    await writeFile(file, "Authorization Bearer hunter2\n");
    assert.throws(
      () => new HttpSink({ url: "http://127.0.0.1:1/", headersFile: file }),
      (err: unknown) =>
        err instanceof Error && /line 1 is not "Name: value"/.test(err.message) && !/hunter2/.test(err.message),
    );
  });
});

describe("HttpSink options", () => {
  it("refuses what cannot work when made, not at the first send", async () => {
    assert.throws(() => new HttpSink({ url: "ftp://127.0.0.1/x" }), /not an http or https URL/);
    assert.throws(() => new HttpSink({ url: "http://127.0.0.1:1/", mode: "batch", maxBatch: 0 }), /maxBatch/);
    const token = join(dir, "token-both");
    await writeFile(token, "t");
    assert.throws(
      () => new HttpSink({ url: "http://127.0.0.1:1/", bearerTokenFile: token, headersFile: token }),
      /not both/,
    );
    assert.throws(
      () => new HttpSink({ url: "https://127.0.0.1:1/", tls: { caFile: join(dir, "no-ca.pem") } }),
      /cannot read the TLS ca file .*no-ca\.pem \(ENOENT\)/,
    );
    assert.equal(sink({ url: "http://127.0.0.1:1/", maxBatch: 50 }).maxBatch, 1, "binary: one a request");
  });
});

describe("HttpSink TLS", () => {
  const ca = CertificateAuthority.create("sinks-http-ca");
  const serving = ca.issue({ commonName: "receiver", hosts: ["127.0.0.1"], usage: "server" });
  const client = ca.issue({ commonName: "exporter", usage: "client" });

  it("verifies the receiver with the CA file, fails without it, and skips verifying only when told", async () => {
    const r = await receiver({ tls: serving });
    const caFile = join(dir, "ca.pem");
    await writeFile(caFile, ca.pair.certPem);
    await sink({ url: r.url, tls: { caFile } }).send([delivery()], signal());
    await rejectsWith(sink({ url: r.url }).send([delivery()], signal()), {
      retryable: true,
      message: /certificate/,
    });
    await sink({ url: r.url, tls: { insecureSkipVerify: true } }).send([delivery()], signal());
    assert.equal(r.events.length, 2);
  });

  it("presents the client certificate a receiver requires", async () => {
    const r = await receiver({ tls: { ...serving, clientCaPem: ca.pair.certPem } });
    const caFile = join(dir, "ca-mtls.pem");
    const certFile = join(dir, "client.pem");
    const keyFile = join(dir, "client-key.pem");
    await writeFile(caFile, ca.pair.certPem);
    await writeFile(certFile, client.certPem);
    await writeFile(keyFile, client.keyPem);
    await sink({ url: r.url, tls: { caFile, certFile, keyFile } }).send([delivery()], signal());
    await rejectsWith(sink({ url: r.url, tls: { caFile } }).send([delivery()], signal()), { retryable: true });
    assert.equal(r.events.length, 1);
  });
});

describe("retryAfterMs", () => {
  it("reads delay-seconds and HTTP-dates, and nothing else", () => {
    const now = Date.parse("2026-12-02T18:00:00Z");
    assert.equal(retryAfterMs("120", now), 120_000);
    assert.equal(retryAfterMs(" 0 ", now), 0);
    assert.equal(retryAfterMs("Wed, 02 Dec 2026 18:00:30 GMT", now), 30_000);
    assert.equal(retryAfterMs("Wed, 02 Dec 2026 17:00:00 GMT", now), 0, "a date past is now");
    assert.equal(retryAfterMs("soon", now), undefined);
    assert.equal(retryAfterMs("-5", now), undefined);
    assert.equal(retryAfterMs("Wednesday, 02-Dec-26 18:01:00 GMT", now), 60_000, "RFC 850");
    assert.equal(retryAfterMs("Wed Dec  2 18:00:10 2026", now), 10_000, "asctime");
    assert.equal(retryAfterMs(undefined, now), undefined);
  });
});
