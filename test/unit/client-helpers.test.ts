/** The pure parts of the client's helpers: kubectl's `--for` syntax, reading manifests. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManifestError, parseManifest, parseWaitCondition } from "../../src/client/index.js";
import { isBadRequest } from "../../src/http/index.js";

describe("parseWaitCondition: kubectl wait's --for", () => {
  it("reads the three forms as kubectl does", () => {
    assert.deepEqual(parseWaitCondition("delete"), { delete: true });
    assert.deepEqual(parseWaitCondition("DELETE"), { delete: true });
    assert.deepEqual(parseWaitCondition("condition=Ready"), { condition: "Ready" });
    assert.deepEqual(parseWaitCondition("condition=Ready=false"), { condition: "Ready", status: "false" });
    assert.deepEqual(parseWaitCondition("jsonpath={.status.phase}=Running"), {
      jsonPath: "{.status.phase}",
      value: "Running",
    });
    assert.deepEqual(parseWaitCondition("jsonpath='{.status.phase}'=Running"), {
      jsonPath: "{.status.phase}",
      value: "Running",
    });
    assert.deepEqual(parseWaitCondition("jsonpath=.status.loadBalancer.ingress"), {
      jsonPath: "{.status.loadBalancer.ingress}",
    });
    assert.deepEqual(parseWaitCondition(`jsonpath={.status.readyReplicas}="3"`), {
      jsonPath: "{.status.readyReplicas}",
      value: "3",
    });
  });

  it("keeps a filter's == in the expression, splitting on a single = only", () => {
    assert.deepEqual(parseWaitCondition(`jsonpath={.status.conditions[?(@.type=="Ready")].status}=True`), {
      jsonPath: `{.status.conditions[?(@.type=="Ready")].status}`,
      value: "True",
    });
  });

  it("rejects what kubectl rejects, saying what it takes", () => {
    assert.throws(() => parseWaitCondition("Ready"), /unrecognized condition "Ready": use delete, condition=NAME/);
    assert.throws(() => parseWaitCondition("condition="), /no condition named/);
    assert.throws(() => parseWaitCondition("jsonpath={.a}=1=2"), /jsonpath wait format must be/);
    assert.throws(() => parseWaitCondition("jsonpath={.a}="), /needs a value after '='/);
    assert.throws(() => parseWaitCondition("jsonpath="), /jsonpath wait format must be/);
    assert.throws(() => parseWaitCondition("jsonpath={.a}{.b}"), /unexpected JSONPath "\{\.a\}\{\.b\}": expected/);
  });
});

describe("parseManifest", () => {
  it("reads every document, skipping empty ones, a List standing for its items", () => {
    const objects = parseManifest(`
# a comment-only document
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {flag: "yes"}
---
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
- {apiVersion: v1, kind: Secret, metadata: {name: c}}
`);
    assert.deepEqual(
      objects.map((o) => `${o.kind}/${o.metadata.name}`),
      ["ConfigMap/a", "ConfigMap/b", "Secret/c"],
    );
    assert.deepEqual(objects[0]?.data, { flag: "yes" });
  });

  it("reads YAML as kubectl does: 1.1 booleans", () => {
    const [cm] = parseManifest("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {on: yes}\n");
    assert.deepEqual(cm?.data, { true: true });
  });

  it("names the document at fault", () => {
    const bad = (text: string, pattern: RegExp, document: number) =>
      assert.throws(
        () => parseManifest(text),
        (err: unknown) => {
          assert.ok(err instanceof ManifestError && isBadRequest(err));
          assert.match(err.message, pattern);
          assert.equal(err.document, document);
          return true;
        },
      );
    const ok = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n";
    bad(`${ok}---\nkind: ConfigMap\nmetadata: {name: x}\n`, /^document 2 \(ConfigMap x\): no apiVersion$/, 2);
    bad(`${ok}---\napiVersion: v1\nmetadata: {name: x}\n`, /^document 2 \(\(no kind\) x\): no kind$/, 2);
    bad(
      `${ok}---\n${ok}---\napiVersion: v1\nkind: Secret\nmetadata: {generateName: x-}\n`,
      /^document 3 \(Secret \(no name\)\): no metadata\.name/,
      3,
    );
    bad(`${ok}---\n- a\n- b\n`, /^document 2: not an object$/, 2);
    bad(`${ok}---\na: [1\n`, /^document 2: not valid YAML: /, 2);
    bad(`apiVersion: v1\napiVersion: v2\n`, /^document 1: not valid YAML: /, 1);
  });
});
