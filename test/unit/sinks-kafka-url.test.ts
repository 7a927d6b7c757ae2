/** What a `kafka://` sink URL means, and the URLs refused before anything connects. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConfigError } from "../../src/config/errors.js";
import { kafkaSinkFromUrl } from "../../src/sinks/kafka.js";

describe("kafkaSinkFromUrl", () => {
  test("host, port, topic, more brokers, mode and batch size", () => {
    const sink = kafkaSinkFromUrl(
      new URL("kafka://k1.example.com:9093/cluster.events?broker=k2.example.com:9094&broker=[::1]:9095&max-batch=50"),
    );
    assert.equal(sink.name, "kafka k1.example.com:9093,k2.example.com:9094,[::1]:9095/cluster.events");
    assert.equal(sink.maxBatch, 50);
  });

  test("port 9092 and topic kindwatch by default", () => {
    const sink = kafkaSinkFromUrl(new URL("kafka://broker"));
    assert.equal(sink.name, "kafka broker:9092/kindwatch");
    assert.equal(sink.maxBatch, 500);
  });

  for (const [url, why] of [
    ["kafka://user:secret@broker/t", /credentials/],
    ["kafka://broker/t?mode=batched", /mode must be binary or structured/],
    ["kafka://broker/t?tls=yes", /tls must be true or false/],
    ["kafka://broker/t?max-batch=0", /max-batch must be a positive integer/],
    ["kafka://broker/t?acks=1", /unknown parameter acks/],
    ["kafka://broker/t?broker=nohost", /bad broker nohost/],
    ["kafka://broker/a/b", /bad topic a\/b/],
  ] as const) {
    test(`refuses ${url}`, () => {
      assert.throws(
        () => kafkaSinkFromUrl(new URL(url)),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, why);
          assert.doesNotMatch(err.message, /secret/);
          return true;
        },
      );
    });
  }
});
