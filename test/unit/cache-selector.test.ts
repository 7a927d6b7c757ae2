/**
 * Label selectors, checked against the grammar and semantics of k8s.io/apimachinery/pkg/labels/selector.go: what the
 * API server accepts must parse to the same requirements, what it rejects must throw, and matching must agree.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { matchesLabels, parseLabelSelector, type Requirement } from "../../src/cache/selector.js";

const parse = (text: string): readonly Requirement[] => parseLabelSelector(text).requirements;
const matches = (text: string, labels?: Record<string, string>): boolean =>
  matchesLabels(parseLabelSelector(text), labels);

describe("parseLabelSelector", () => {
  it("reads an empty or blank selector as no requirements", () => {
    assert.deepEqual(parse(""), []);
    assert.deepEqual(parse("   "), []);
    assert.deepEqual(parse(" \t\r\n"), []);
  });

  it("reads =, == and != with one value", () => {
    assert.deepEqual(parse("a=b"), [{ key: "a", op: "in", values: ["b"] }]);
    assert.deepEqual(parse("a==b"), [{ key: "a", op: "in", values: ["b"] }]);
    assert.deepEqual(parse("a!=b"), [{ key: "a", op: "notin", values: ["b"] }]);
  });

  it("reads an empty exact value as the empty string", () => {
    assert.deepEqual(parse("a="), [{ key: "a", op: "in", values: [""] }]);
    assert.deepEqual(parse("a!="), [{ key: "a", op: "notin", values: [""] }]);
    assert.deepEqual(parse("a==,b"), [
      { key: "a", op: "in", values: [""] },
      { key: "b", op: "exists" },
    ]);
  });

  it("reads exists and does-not-exist", () => {
    assert.deepEqual(parse("a"), [{ key: "a", op: "exists" }]);
    assert.deepEqual(parse("!a"), [{ key: "a", op: "!exists" }]);
    assert.deepEqual(parse("! a , b"), [
      { key: "a", op: "!exists" },
      { key: "b", op: "exists" },
    ]);
  });

  it("reads in and notin with sets of values, sorted and without duplicates as the server keeps them", () => {
    assert.deepEqual(parse("env in (prod, dev,prod)"), [{ key: "env", op: "in", values: ["dev", "prod"] }]);
    assert.deepEqual(parse("env notin (x)"), [{ key: "env", op: "notin", values: ["x"] }]);
    assert.deepEqual(parse("env in(x)"), [{ key: "env", op: "in", values: ["x"] }]);
  });

  it("reads empty values inside a set: (), (,a), (a,), (a,,b)", () => {
    assert.deepEqual(parse("x in ()"), [{ key: "x", op: "in", values: [""] }]);
    assert.deepEqual(parse("x in (,a)"), [{ key: "x", op: "in", values: ["", "a"] }]);
    assert.deepEqual(parse("x in (a,)"), [{ key: "x", op: "in", values: ["", "a"] }]);
    assert.deepEqual(parse("x notin (a,,b)"), [{ key: "x", op: "notin", values: ["", "a", "b"] }]);
    // The example from the grammar's own documentation.
    assert.deepEqual(parse("x in (foo,,baz),y,z notin ()"), [
      { key: "x", op: "in", values: ["", "baz", "foo"] },
      { key: "y", op: "exists" },
      { key: "z", op: "notin", values: [""] },
    ]);
  });

  it("takes in and notin as keys and values where the grammar expects those", () => {
    assert.deepEqual(parse("in in (in, notin)"), [{ key: "in", op: "in", values: ["in", "notin"] }]);
    assert.deepEqual(parse("notin=in"), [{ key: "notin", op: "in", values: ["in"] }]);
    assert.deepEqual(parse("!in"), [{ key: "in", op: "!exists" }]);
  });

  it("reads the integer comparisons > and <", () => {
    assert.deepEqual(parse("replicas>3"), [{ key: "replicas", op: "gt", values: ["3"] }]);
    assert.deepEqual(parse("replicas < 10"), [{ key: "replicas", op: "lt", values: ["10"] }]);
  });

  it("ignores spaces, tabs and newlines between tokens", () => {
    assert.deepEqual(parse(" a = b ,\tc\n!= d ,  e in ( f , g ) "), [
      { key: "a", op: "in", values: ["b"] },
      { key: "c", op: "notin", values: ["d"] },
      { key: "e", op: "in", values: ["f", "g"] },
    ]);
  });

  it("accepts qualified keys with a DNS prefix and the full character set of label values", () => {
    assert.deepEqual(parse("app.kubernetes.io/name=my_App-1.0"), [
      { key: "app.kubernetes.io/name", op: "in", values: ["my_App-1.0"] },
    ]);
    assert.deepEqual(parse(`k=${"v".repeat(63)}`), [{ key: "k", op: "in", values: ["v".repeat(63)] }]);
  });

  const invalid: readonly [string, string][] = [
    [",", "a leading comma"],
    ["a,", "a trailing comma"],
    ["a,,b", "two commas"],
    ["a b", "two keys without an operator"],
    ["a=b c", "a second word after a value"],
    ["a=b=c", "two operators"],
    ["a===b", "three equals signs"],
    ["a=!b", "! as a value"],
    ["a=(b)", "a set after ="],
    ["!a=b", "! with an operator"],
    ["!", "! without a key"],
    ["=b", "an operator without a key"],
    ["a in b", "in without parentheses"],
    ["a in (b", "an unclosed set"],
    ["a in (b c)", "values without a comma between them"],
    ["a in (b))", "an extra parenthesis"],
    ["a in (,", "an unclosed set after a comma"],
    ["a notin", "notin without a set"],
    ["a>", "> without a value"],
    ["a>b", "> with a value that is not an integer"],
    ["a>-1", "> with a negative number, which is not a label value"],
    ["a>99999999999999999999", "> with a number out of the int64 range"],
    ["a in (1) > 2", "a comparison after a set"],
    ["-a=b", "a key starting with a dash"],
    ["a/b/c=d", "a key with two slashes"],
    ["/a=b", "an empty key prefix"],
    ["a/=b", "an empty key name"],
    ["Example.com/a=b", "an upper-case key prefix"],
    [`${"k".repeat(64)}=v`, "a key name of 64 characters"],
    ["a=-b", "a value starting with a dash"],
    ["a=b.", "a value ending with a dot"],
    [`a=${"v".repeat(64)}`, "a value of 64 characters"],
    ["a in (b, -c)", "an invalid value in a set"],
    ["a=b\u00a0", "a non-breaking space, which is not whitespace to the server"],
    ["a=ü", "a value outside [A-Za-z0-9_.-]"],
  ];
  for (const [text, what] of invalid) {
    it(`rejects ${what}: ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseLabelSelector(text),
        (err: unknown) =>
          err instanceof TypeError && err.message.startsWith(`invalid label selector ${JSON.stringify(text)}`),
      );
    });
  }
});

describe("matchesLabels", () => {
  const labels = { app: "web", tier: "front", empty: "", replicas: "5" };

  it("matches everything with an empty selector, also an object without labels", () => {
    assert.equal(matches("", labels), true);
    assert.equal(matches("", undefined), true);
  });

  it("= needs the label with that value", () => {
    assert.equal(matches("app=web", labels), true);
    assert.equal(matches("app=db", labels), false);
    assert.equal(matches("missing=web", labels), false);
    assert.equal(matches("app=web", undefined), false);
  });

  it("!= and notin also match a missing label, as the server does", () => {
    assert.equal(matches("app!=db", labels), true);
    assert.equal(matches("app!=web", labels), false);
    assert.equal(matches("missing!=x", labels), true);
    assert.equal(matches("missing notin (x)", labels), true);
    assert.equal(matches("app notin (web,db)", labels), false);
    assert.equal(matches("app notin (db)", undefined), true);
  });

  it("an empty value matches only a label that is present and empty", () => {
    assert.equal(matches("empty=", labels), true);
    assert.equal(matches("missing=", labels), false);
    assert.equal(matches("app=", labels), false);
    assert.equal(matches("empty in ()", labels), true);
    assert.equal(matches("empty notin ()", labels), false);
    assert.equal(matches("missing notin ()", labels), true);
  });

  it("exists and !exists look at presence only", () => {
    assert.equal(matches("empty", labels), true);
    assert.equal(matches("missing", labels), false);
    assert.equal(matches("!missing", labels), true);
    assert.equal(matches("!empty", labels), false);
    assert.equal(matches("!missing", undefined), true);
  });

  it("does not take inherited properties for labels", () => {
    assert.equal(matches("toString"), false);
    assert.equal(matches("constructor", {}), false);
    assert.equal(matches("!hasOwnProperty", {}), true);
  });

  it("> and < compare integers and never match a missing or non-integer label", () => {
    assert.equal(matches("replicas>4", labels), true);
    assert.equal(matches("replicas>5", labels), false);
    assert.equal(matches("replicas<6", labels), true);
    assert.equal(matches("replicas<5", labels), false);
    assert.equal(matches("replicas>007", { replicas: "10" }), true, "compared as numbers, not strings");
    assert.equal(matches("missing>1", labels), false);
    assert.equal(matches("missing<1", labels), false);
    assert.equal(matches("app<1", labels), false);
    assert.equal(matches("app>1", { app: "1.5" }), false);
    assert.equal(matches("big>9223372036854775806", { big: "9223372036854775807" }), true, "exact over int64");
    assert.equal(matches("big<1", { big: "99999999999999999999" }), false, "out of int64 range never matches");
  });

  it("needs every requirement to hold", () => {
    assert.equal(matches("app=web,tier in (front,back),!canary,replicas>1", labels), true);
    assert.equal(matches("app=web,tier in (back)", labels), false);
  });
});
