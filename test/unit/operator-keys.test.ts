/** keySetFromSecret: a Secret's data keys as the gateway's key set, hashes only, problems named without values. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hashKey } from "../../src/gateway/keys.js";
import { keySetFromSecret } from "../../src/operator/keys.js";

const source = { uid: "u-1", generation: 3 };
const b64 = (text: string) => Buffer.from(text).toString("base64");
const secret = (data: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "keys", namespace: "ns" },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});

describe("keySetFromSecret", () => {
  it("makes every data key one API key, id = data key name, sha256 = the gateway's hash of the value", () => {
    const result = keySetFromSecret("amb.ns.b", source, secret({ zed: "sk-z", alice: "sk-a" }), {
      secretRef: { name: "keys" },
    });
    assert.ok("spec" in result);
    assert.deepEqual(result.spec, {
      name: "amb.ns.b",
      source,
      keys: [
        { id: "alice", sha256: hashKey("sk-a") },
        { id: "zed", sha256: hashKey("sk-z") },
      ],
    });
  });

  it("takes only the keys named, in their order", () => {
    const result = keySetFromSecret("s", source, secret({ a: "1", b: "2", c: "3" }), {
      secretRef: { name: "keys" },
      keys: ["c", "a"],
    });
    assert.ok("spec" in result);
    assert.deepEqual(
      result.spec.keys.map((k) => k.id),
      ["c", "a"],
    );
  });

  it("hashes the value exactly as stored: a trailing newline is part of the key", () => {
    const result = keySetFromSecret("s", source, secret({ k: "sk-line\n" }), { secretRef: { name: "keys" } });
    assert.ok("spec" in result);
    assert.equal(result.spec.keys[0]?.sha256, hashKey("sk-line\n"));
    assert.notEqual(result.spec.keys[0]?.sha256, hashKey("sk-line"));
  });

  it("reports a missing Secret, a missing key and an empty Secret, naming no value", () => {
    assert.deepEqual(keySetFromSecret("s", source, undefined, { secretRef: { name: "keys" } }), {
      problem: "Secret keys does not exist",
      reason: "SecretNotFound",
    });
    const missing = keySetFromSecret("s", source, secret({ a: "sk-visible" }), {
      secretRef: { name: "keys" },
      keys: ["a", "b"],
    });
    assert.deepEqual(missing, { problem: "Secret keys has no key b", reason: "KeyNotFound" });
    const empty = keySetFromSecret("s", source, { ...secret({}), data: undefined }, { secretRef: { name: "keys" } });
    assert.deepEqual(empty, { problem: "Secret keys holds no key", reason: "KeyNotFound" });
  });

  it("returns no key value, plain or base64, in any result", () => {
    const value = "sk-never-shown-123";
    for (const auth of [{ secretRef: { name: "keys" } }, { secretRef: { name: "keys" }, keys: ["v", "missing"] }]) {
      const text = JSON.stringify(keySetFromSecret("s", source, secret({ v: value }), auth));
      assert.equal(text.includes(value), false);
      assert.equal(text.includes(b64(value)), false);
    }
  });
});
