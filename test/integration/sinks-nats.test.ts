/**
 * The NATS JetStream sink against a real nats-server: what the stream holds is what was sent, once, in order; a batch
 * sent again is de-duplicated by JetStream; an outage and a hung server fail a send in a way worth retrying, and the
 * next send after a restart lands; aborting gives up; what can never succeed says so and is not retried.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { StoredMsg } from "@nats-io/jetstream";
import { CloudEvent, type CloudEventV1 } from "cloudevents";
import { type NatsSinkOptions, natsSink } from "../../src/sinks/nats.js";
import { type Delivery, type Sink, SinkError } from "../../src/sinks/types.js";
import { startNats, type TestNats, userCreds } from "../support/nats.js";
import { processTempDir } from "../support/tempdir.js";
import { uniqueName, waitFor } from "../support/wait.js";

const kinds = [
  { group: "apps", version: "v1", kind: "Deployment", resource: "deployments", token: "apps" },
  { group: "", version: "v1", kind: "ConfigMap", resource: "configmaps", token: "core" },
  {
    group: "widgets.example.com",
    version: "v1beta1",
    kind: "Widget",
    resource: "widgets",
    token: "widgets_example_com",
  },
] as const;

let serial = 0;
/** `n` object events, round robin over `kinds`, each with its own uid and resourceVersion. */
function deliveries(n: number): Delivery[] {
  return Array.from({ length: n }, (_, i) => {
    const k = kinds[i % kinds.length] ?? kinds[0];
    const uid = `uid-${i % 7}`;
    const rv = String(++serial);
    const name = `obj-${i % 7}`;
    const event = new CloudEvent<unknown>({
      id: `${uid}/${rv}`,
      type: "dev.kindwatch.object.modified",
      source: `kindwatch://test/${k.group ? `apis/${k.group}` : "api"}/${k.version}/namespaces/default/${k.resource}`,
      subject: `default/${name}`,
      time: new Date().toISOString(),
      datacontenttype: "application/json",
      kwgroup: k.group,
      kwversion: k.version,
      kwkind: k.kind,
      kwresource: k.resource,
      kworigin: "live",
      kwchanged: "spec.replicas,metadata.labels",
      data: { metadata: { name, namespace: "default", uid, resourceVersion: rv }, spec: { n: i, text: "ünïcødé ✓" } },
    });
    return { event, key: uid };
  });
}

const subjectOf = (prefix: string, d: Delivery) => {
  const k = kinds.find((k) => k.resource === d.event.kwresource);
  return `${prefix}.${k?.token}.${d.event.kwresource}`;
};
const asJson = (d: Delivery) => JSON.parse(JSON.stringify(d.event)) as unknown;
const ids = (msgs: StoredMsg[]) => msgs.map((m) => m.header?.get("Nats-Msg-Id"));

let nats: TestNats;
const opened: Sink[] = [];
function sink(options: Partial<NatsSinkOptions> = {}): Sink {
  const s = natsSink({ servers: nats.url, ...options });
  opened.push(s);
  return s;
}
/** A sink of its own stream and subjects (streams may not overlap), which it creates. */
function streamSink(options: Partial<NatsSinkOptions> = {}) {
  const prefix = uniqueName("kw").replace("-", "");
  const stream = prefix.toUpperCase();
  return {
    prefix,
    stream,
    sink: sink({ subject: `${prefix}.{group}.{resource}`, stream, createStream: true, ...options }),
  };
}
async function rejection(promise: Promise<unknown>): Promise<SinkError> {
  const err = await promise.then(
    () => assert.fail("the send resolved"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SinkError, `not a SinkError: ${String(err)}`);
  return err;
}

before(async () => {
  nats = await startNats();
});
after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await nats.stop();
});

describe("NATS JetStream sink", () => {
  it("stores every event as sent, once, in order per subject, under its message id", async () => {
    const { prefix, stream, sink: s } = streamSink();
    const first = deliveries(30);
    const second = deliveries(12);
    await s.send(first, AbortSignal.timeout(30_000));
    await s.send(second, AbortSignal.timeout(30_000));
    const sent = [...first, ...second];
    const stored = await nats.messages(stream);
    assert.deepEqual(
      ids(stored),
      sent.map((d) => d.event.id),
    );
    for (const [i, m] of stored.entries()) {
      const d = sent[i];
      assert.ok(d);
      assert.equal(m.subject, subjectOf(prefix, d));
      assert.equal(m.header?.get("Content-Type"), "application/cloudevents+json; charset=utf-8");
      assert.deepEqual(m.json(), asJson(d));
      assert.deepEqual(new CloudEvent(m.json<CloudEventV1<unknown>>()).data, d.event.data);
    }
    for (const k of kinds) {
      const subject = `${prefix}.${k.token}.${k.resource}`;
      assert.deepEqual(
        stored.filter((m) => m.subject === subject).map((m) => m.json()),
        sent.filter((d) => subjectOf(prefix, d) === subject).map(asJson),
      );
    }
    assert.match(s.name, new RegExp(`^nats nats://127\\.0\\.0\\.1:${nats.port} ${prefix}\\.\\{group\\}`));
  });

  it("stores a batch sent again only once (JetStream de-duplicates on the event id)", async () => {
    const { stream, sink: s } = streamSink({ duplicateWindowMs: 10 * 60_000 });
    const batch = deliveries(20);
    await s.send(batch, AbortSignal.timeout(30_000));
    const more = deliveries(3);
    await s.send([...batch, ...more], AbortSignal.timeout(30_000));
    await s.send(batch.slice(5, 9), AbortSignal.timeout(30_000));
    assert.equal((await nats.jsm.streams.info(stream)).config.duplicate_window, 10 * 60 * 1e9);
    assert.deepEqual(
      ids(await nats.messages(stream)),
      [...batch, ...more].map((d) => d.event.id),
    );
  });

  it("fails a send retryably while the server is down, and delivers once it is back", async () => {
    const { stream, sink: s } = streamSink({ connectTimeoutMs: 1000, ackTimeoutMs: 1000 });
    const before = deliveries(10);
    await s.send(before, AbortSignal.timeout(30_000));
    await nats.kill();
    const during = deliveries(10);
    try {
      const err = await rejection(s.send(during, AbortSignal.timeout(30_000)));
      assert.equal(err.retryable, true, err.message);
      const again = await rejection(s.send(during, AbortSignal.timeout(30_000)));
      assert.equal(again.retryable, true, again.message);
      assert.match(again.message, /could not connect to NATS/);
    } finally {
      await nats.restart();
    }
    await s.send(during, AbortSignal.timeout(30_000));
    assert.deepEqual(
      ids(await nats.messages(stream)),
      [...before, ...during].map((d) => d.event.id),
    );
  });

  it("fails a send retryably when the server answers no ack in time", async () => {
    const { stream, sink: s } = streamSink({ ackTimeoutMs: 300 });
    const batch = deliveries(5);
    await s.send(batch.slice(0, 1), AbortSignal.timeout(30_000));
    nats.pause();
    let err: SinkError;
    try {
      const started = Date.now();
      err = await rejection(s.send(batch, AbortSignal.timeout(30_000)));
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    } finally {
      nats.resume();
    }
    assert.equal(err.retryable, true, err.message);
    assert.match(err.message, /no answer from NATS in time/);
    await s.send(batch, AbortSignal.timeout(30_000));
    assert.deepEqual(
      ids(await nats.messages(stream)),
      batch.map((d) => d.event.id),
    );
  });

  it("gives up a send when its signal aborts, and publishes nothing for a signal aborted already", async () => {
    const { stream, sink: s } = streamSink({ ackTimeoutMs: 60_000 });
    const batch = deliveries(5);
    await s.send(batch.slice(0, 1), AbortSignal.timeout(30_000));
    const gone = new AbortController();
    gone.abort(new Error("shutting down"));
    await assert.rejects(s.send(deliveries(3), gone.signal));
    nats.pause();
    try {
      const controller = new AbortController();
      const started = Date.now();
      const sending = s.send(batch, controller.signal);
      setTimeout(() => controller.abort(new Error("shutting down")), 200);
      const err = await rejection(sending);
      assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
      assert.match(err.message, /aborted/);
    } finally {
      nats.resume();
    }
    await s.send(batch, AbortSignal.timeout(30_000));
    assert.deepEqual(
      ids(await nats.messages(stream)),
      batch.map((d) => d.event.id),
    );
  });

  it("refuses for good a stream that must exist and does not, or that does not cover the subject", async () => {
    const missing = await rejection(
      sink({ stream: uniqueName("ABSENT"), subject: `${uniqueName("kw")}.{resource}` }).send(
        deliveries(1),
        AbortSignal.timeout(30_000),
      ),
    );
    assert.equal(missing.retryable, false);
    assert.match(missing.message, /stream ABSENT-\w+ does not exist/);

    const other = uniqueName("OTHER");
    await nats.jsm.streams.add({ name: other, subjects: [`${other}.>`] });
    const uncovered = await rejection(
      sink({ stream: other, subject: "nowhere.{group}.{resource}" }).send(deliveries(1), AbortSignal.timeout(30_000)),
    );
    assert.equal(uncovered.retryable, false);
    assert.match(uncovered.message, new RegExp(`stream ${other} does not cover subject nowhere\\.apps\\.deployments`));

    const elsewhere = uniqueName("ELSEWHERE");
    await nats.jsm.streams.add({ name: elsewhere, subjects: [`${elsewhere}.>`] });
    const misrouted = await rejection(
      sink({ stream: other, subject: `${elsewhere}.{group}.{resource}` }).send(
        deliveries(1),
        AbortSignal.timeout(30_000),
      ),
    );
    assert.equal(misrouted.retryable, false, misrouted.message);
    assert.match(misrouted.message, /JetStream says expected stream does not match \(10060\)/);
    assert.equal((await nats.jsm.streams.info(elsewhere)).state.messages, 0);

    // With no stream named, nobody storing a subject may be a stream not made yet: worth another try.
    const unstored = await rejection(
      sink({ subject: "nowhere.{group}.{resource}", ackTimeoutMs: 1000 }).send(
        deliveries(1),
        AbortSignal.timeout(30_000),
      ),
    );
    assert.equal(unstored.retryable, true, unstored.message);
    assert.match(unstored.message, /no JetStream stream takes subject nowhere\.apps\.deployments/);
  });

  it("adds the template's subjects to an existing stream it may create", async () => {
    const prefix = uniqueName("kw").replace("-", "");
    const stream = prefix.toUpperCase();
    await nats.jsm.streams.add({ name: stream, subjects: [`${prefix}.audit`] });
    const batch = deliveries(3);
    await sink({ subject: `${prefix}.{group}.{resource}`, stream, createStream: true }).send(
      batch,
      AbortSignal.timeout(30_000),
    );
    assert.deepEqual((await nats.jsm.streams.info(stream)).config.subjects, [`${prefix}.audit`, `${prefix}.*.*`]);
    assert.deepEqual(
      ids(await nats.messages(stream)),
      batch.map((d) => d.event.id),
    );
  });

  it("fails a batch whose last event the stream refuses, for good, though the others were stored", async () => {
    const prefix = uniqueName("kw").replace("-", "");
    const stream = prefix.toUpperCase();
    await nats.jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], max_msg_size: 2048 });
    const [a, b, big] = deliveries(3);
    assert.ok(a && b && big);
    const event = new CloudEvent({ ...big.event, data: { blob: "x".repeat(4096) } });
    const err = await rejection(
      sink({ subject: `${prefix}.{group}.{resource}`, stream }).send(
        [a, b, { event, key: big.key }],
        AbortSignal.timeout(30_000),
      ),
    );
    assert.equal(err.retryable, false, err.message);
    assert.match(err.message, new RegExp(`could not publish event ${event.id}.*JetStream says .*\\(10054\\)`));
    assert.deepEqual(
      ids(await nats.messages(stream)),
      [a, b].map((d) => d.event.id),
    );
  });
});

describe("NATS JetStream sink on a server with a login and a small max_payload", () => {
  let guarded: TestNats;
  before(async () => {
    guarded = await startNats({ maxPayload: 4096, user: { name: "exporter", password: "s3cret" } });
  });
  after(async () => {
    await guarded.stop();
  });

  it("logs in, refuses for good wrong or unreadable credentials, and an event over max_payload", async () => {
    const prefix = uniqueName("kw").replace("-", "");
    const options = {
      servers: guarded.url,
      subject: `${prefix}.{group}.{resource}`,
      stream: prefix,
      createStream: true,
    };
    const wrong = natsSink({ ...options, user: "exporter", password: "nope" });
    opened.push(wrong);
    const refused = await rejection(wrong.send(deliveries(1), AbortSignal.timeout(30_000)));
    assert.equal(refused.retryable, false, refused.message);
    assert.match(refused.message, /could not connect to NATS: .*Authorization/i);

    const noCreds = natsSink({ ...options, credsFile: "/nonexistent/kindwatch.creds" });
    opened.push(noCreds);
    const unreadable = await rejection(noCreds.send(deliveries(1), AbortSignal.timeout(30_000)));
    assert.equal(unreadable.retryable, false, unreadable.message);
    assert.match(unreadable.message, /^could not read the NATS credentials file: ENOENT/);

    const right = natsSink({ ...options, user: "exporter", password: "s3cret" });
    opened.push(right);
    assert.doesNotMatch(right.name, /s3cret/);
    const batch = deliveries(3);
    await right.send(batch, AbortSignal.timeout(30_000));
    assert.deepEqual(
      ids(await guarded.messages(prefix)),
      batch.map((d) => d.event.id),
    );

    const [big] = deliveries(1);
    assert.ok(big);
    const event = new CloudEvent({ ...big.event, data: { blob: "x".repeat(8192) } });
    const tooBig = await rejection(right.send([{ event, key: big.key }], AbortSignal.timeout(30_000)));
    assert.equal(tooBig.retryable, false, tooBig.message);
    assert.match(
      tooBig.message,
      new RegExp(`event ${event.id} is larger than the NATS server's max_payload \\(4096 bytes\\)`),
    );
  });
});

describe("NATS JetStream sink on a server that requires mutual TLS", () => {
  let secured: TestNats;
  before(async () => {
    secured = await startNats({ tls: true });
  });
  after(async () => {
    await secured.stop();
  });

  it("delivers with the CA and a client certificate, and refuses for good without either", async () => {
    const files = secured.tls;
    assert.ok(files);
    const prefix = uniqueName("kw").replace("-", "");
    const options = {
      servers: secured.url,
      subject: `${prefix}.{group}.{resource}`,
      stream: prefix,
      createStream: true,
    };
    const open = (o: Partial<NatsSinkOptions>) => {
      const s = natsSink({ ...options, ...o });
      opened.push(s);
      return s;
    };
    const batch = deliveries(3);
    await open({ tls: files }).send(batch, AbortSignal.timeout(30_000));
    assert.deepEqual(
      ids(await secured.messages(prefix)),
      batch.map((d) => d.event.id),
    );

    // In TLS 1.3 the server refuses a client certificate after the client's handshake is done: the alert may lose the
    // race to the reset that follows it, which reads as a lost connection (retryable). The exporter sends again and
    // then learns the truth; so does this test.
    const withoutCert = open({ tls: { caFile: files.caFile } });
    const noClientCert = await waitFor("a send without a client certificate to fail for good", async () => {
      const err = await rejection(withoutCert.send(batch, AbortSignal.timeout(30_000)));
      return !err.retryable && err;
    });
    assert.match(noClientCert.message, /^could not connect to NATS: TLS: .*bad certificate/);

    const untrusted = await rejection(
      open({ tls: { certFile: files.certFile, keyFile: files.keyFile } }).send(batch, AbortSignal.timeout(30_000)),
    );
    assert.equal(untrusted.retryable, false, untrusted.message);
    assert.match(untrusted.message, /^could not connect to NATS: TLS: unable to verify/);
  });
});

describe("NATS JetStream sink on a server in operator mode (JWT accounts)", () => {
  let decentral: TestNats;
  before(async () => {
    decentral = await startNats({ operator: true });
  });
  after(async () => {
    await decentral.stop();
  });

  it("delivers with the user's creds file, and refuses for good creds the server does not trust", async () => {
    assert.ok(decentral.credsFile);
    const prefix = uniqueName("kw").replace("-", "");
    const options = {
      servers: decentral.url,
      subject: `${prefix}.{group}.{resource}`,
      stream: prefix,
      createStream: true,
    };
    const trusted = natsSink({ ...options, credsFile: decentral.credsFile });
    opened.push(trusted);
    const batch = deliveries(3);
    await trusted.send(batch, AbortSignal.timeout(30_000));
    assert.deepEqual(
      ids(await decentral.messages(prefix)),
      batch.map((d) => d.event.id),
    );

    const strangerFile = join(processTempDir("kindwatch-nats-creds"), "stranger.creds");
    writeFileSync(strangerFile, userCreds());
    const stranger = natsSink({ ...options, credsFile: strangerFile });
    opened.push(stranger);
    const refused = await rejection(stranger.send(batch, AbortSignal.timeout(30_000)));
    assert.equal(refused.retryable, false, refused.message);
    assert.match(refused.message, /^could not connect to NATS: .*Authorization Violation/i);
  });
});
