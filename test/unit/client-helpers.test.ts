/** The pure parts of the client's helpers: kubectl's `--for` syntax, plain JSONPath fields, reading manifests. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  compileFieldPath,
  ManifestError,
  parseFieldPath,
  parseManifest,
  parseWaitCondition,
  relaxedJsonPath,
} from "../../src/client/index.js";
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
  });
});

describe("plain JSONPath fields", () => {
  it("relaxes a path into kubectl's template form", () => {
    for (const text of ["status.phase", ".status.phase", "{status.phase}", "{.status.phase}"]) {
      assert.equal(relaxedJsonPath(text), "{.status.phase}", text);
    }
    assert.throws(() => relaxedJsonPath("{.a}{.b}"), /unexpected JSONPath/);
  });

  it("reads dotted fields and [n] indexes through the object layer", () => {
    const pod = {
      status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }], containerStatuses: [[1, 2]] },
    };
    assert.deepEqual(parseFieldPath("{.status.conditions[0].type}"), ["status", "conditions", 0, "type"]);
    assert.deepEqual(compileFieldPath("{.status.phase}")(pod), ["Running"]);
    assert.deepEqual(compileFieldPath(".status.conditions[0].type")(pod), ["Ready"]);
    assert.deepEqual(compileFieldPath("{.status.containerStatuses[0][1]}")(pod), [2]);
    assert.deepEqual(compileFieldPath("{.status.conditions[3].type}")(pod), [], "past the end: nothing");
    assert.deepEqual(compileFieldPath("{.status.phase.x}")(pod), [], "through a string: nothing");
    assert.deepEqual(compileFieldPath("{.spec}")(pod), [], "missing: nothing");
  });

  it("says when a path needs the full evaluator", () => {
    for (const path of ["{.items[*].name}", "{..name}", `{.a[?(@.b=="c")]}`, "{.a[-1]}", "{.a.*}"]) {
      assert.throws(() => parseFieldPath(path), /not a plain field path: only '\.name' and '\[N\]' steps/, path);
    }
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
