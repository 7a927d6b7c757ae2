import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hashKey } from "../../src/gateway/keys.js";
import type { KubeObject } from "../../src/object/types.js";
import { keySetFromSecret } from "../../src/operator/keys.js";

const source = { uid: "uid-1", generation: 3 };
const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");
const secret = (data: Record<string, string>): KubeObject => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "api-keys", namespace: "team" },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});

describe("keySetFromSecret", () => {
  it("makes one key per data key, its id the data key's name and its hash the gateway's hash of the value", () => {
    const got = keySetFromSecret("amd.team.llama", source, secret({ bob: "sk-bob", alice: "sk-alice" }), {
      secretRef: { name: "api-keys" },
      header: "authorization",
    });
    assert.deepEqual(got, {
      spec: {
        name: "amd.team.llama",
        source,
        keys: [
          { id: "alice", sha256: hashKey("sk-alice") },
          { id: "bob", sha256: hashKey("sk-bob") },
        ],
      },
    });
  });

  it("hashes the value exactly as stored: a trailing newline is part of the key", () => {
    const got = keySetFromSecret("ks", source, secret({ k: "sk-1\n" }), {
      secretRef: { name: "api-keys" },
      header: "authorization",
    });
    assert.ok("spec" in got);
    assert.equal(got.spec.keys[0]?.sha256, hashKey("sk-1\n"));
    assert.notEqual(got.spec.keys[0]?.sha256, hashKey("sk-1"));
  });

  it("takes only the data keys auth.keys names", () => {
    const got = keySetFromSecret("ks", source, secret({ a: "1", b: "2", c: "3" }), {
      secretRef: { name: "api-keys" },
      header: "authorization",
      keys: ["c", "a"],
    });
    assert.ok("spec" in got);
    assert.deepEqual(
      got.spec.keys.map((k) => k.id),
      ["c", "a"],
    );
  });

  it("reports a missing Secret, a missing data key and an empty Secret as problems", () => {
    const auth = { secretRef: { name: "api-keys" }, header: "authorization" };
    assert.deepEqual(keySetFromSecret("ks", source, undefined, auth), {
      problem: "Secret api-keys does not exist",
      reason: "SecretNotFound",
    });
    assert.deepEqual(keySetFromSecret("ks", source, secret({ a: "1" }), { ...auth, keys: ["a", "b", "z"] }), {
      problem: "Secret api-keys has no key b, z",
      reason: "KeyNotFound",
    });
    assert.deepEqual(keySetFromSecret("ks", source, secret({}), auth), {
      problem: "Secret api-keys holds no key",
      reason: "KeyNotFound",
    });
  });

  it("never puts a key's value, plain or base64, in what it returns", () => {
    const value = "sk-very-secret-value";
    for (const auth of [
      { secretRef: { name: "api-keys" }, header: "authorization" },
      { secretRef: { name: "api-keys" }, header: "authorization", keys: ["k", "x"] },
    ]) {
      const text = JSON.stringify(keySetFromSecret("ks", source, secret({ k: value }), auth));
      assert.ok(!text.includes(value) && !text.includes(b64(value)), text);
    }
  });
});
