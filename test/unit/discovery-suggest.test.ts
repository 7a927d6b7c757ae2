/** "Did you mean": the edit distance and the choice of close names. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { closest, editDistance } from "../../src/discovery/index.js";

describe("edit distance", () => {
  it("counts inserts, deletes, substitutions and swaps of neighbours", () => {
    assert.equal(editDistance("", ""), 0);
    assert.equal(editDistance("", "abc"), 3);
    assert.equal(editDistance("abc", ""), 3);
    assert.equal(editDistance("kitten", "sitting"), 3);
    assert.equal(editDistance("deploymnets", "deployments"), 1);
    assert.equal(editDistance("ab", "ba"), 1);
    assert.equal(editDistance("pods", "pod"), 1);
    assert.equal(editDistance("configmap", "configmaps"), 1);
  });
});

describe("closest names", () => {
  const names = (...keys: string[]) => keys.map((key) => ({ key, label: key }));

  it("ranks by distance, then by candidate order, without repeats", () => {
    assert.deepEqual(
      closest("replicaset", names("replicasets", "replicationcontrollers", "replicaset", "replicasets")),
      ["replicasets"],
    );
    assert.deepEqual(closest("endpoint", names("endpointslices", "endpoints", "endpoint")), [
      "endpoints",
      "endpointslices",
    ]);
  });

  it("allows fewer edits for shorter names", () => {
    assert.deepEqual(closest("px", names("po", "pv", "ns")), ["po", "pv"]);
    assert.deepEqual(closest("pdos", names("pods", "nodes")), ["pods"]);
    assert.deepEqual(closest("servces", names("services", "servers")), ["services", "servers"]);
    assert.deepEqual(closest("servcies", names("services")), ["services"]);
    assert.deepEqual(closest("xyz", names("pods")), []);
  });

  it("suggests names that begin with what was typed", () => {
    assert.deepEqual(closest("cert", names("certificatesigningrequests", "pods")), ["certificatesigningrequests"]);
    assert.deepEqual(closest("ce", names("certificatesigningrequests")), []);
  });

  it("ignores case, never suggests what was typed, and stops at the limit", () => {
    assert.deepEqual(closest("PODS", names("pods", "pod")), ["pod"]);
    assert.equal(closest("a", names("b", "c", "d", "e", "f", "g"), 3).length, 3);
  });
});
