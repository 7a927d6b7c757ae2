/**
 * kubectl's --sort-by: its comparison (byte order, resource quantities, missing values first, errors on types it
 * cannot compare) and its algorithm (Go's unstable sort.Sort), checked against the order the real kubectl 1.35 gave.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseQuantity } from "../../src/cli/quantity.js";
import { isLess, sortByPath } from "../../src/cli/sort-by.js";
import { parseJsonPath } from "../../src/object/jsonpath.js";

describe("cli: --sort-by's comparison", () => {
  it("reads resource quantities as apimachinery does", () => {
    const nanos = (s: string) => parseQuantity(s);
    assert.equal(nanos("500m"), 500_000_000n);
    assert.equal(nanos("2"), 2_000_000_000n);
    assert.equal(nanos("1Ki"), 1024n * 10n ** 9n);
    assert.equal(nanos("1.5Gi"), 1_610_612_736n * 10n ** 9n);
    assert.equal(nanos("1e3"), 1000n * 10n ** 9n);
    assert.equal(nanos("-1.5k"), -1500n * 10n ** 9n);
    assert.equal(nanos(".5"), 500_000_000n);
    assert.equal(nanos("0.1n"), 1n, "rounded up to the nano-unit");
    assert.equal(nanos("m"), 0n, "a bare suffix is zero, as apimachinery reads it");
    for (const not of ["", "abc", "1.2.3", "5x", "e", "1ki", "2026-12-01T22:44:44Z", "1e3x"]) {
      assert.equal(nanos(not), undefined, not);
    }
  });

  it("compares by type: quantities, strings byte by byte, ints, floats; missing first; other pairs are errors", () => {
    assert.equal(isLess("500m", "2"), true);
    assert.equal(isLess("10", "9"), false);
    assert.equal(isLess("g10", "g9"), true, "byte order, as kubectl 1.35 sorts (g10 before g9), not natural order");
    assert.equal(isLess("b2", "b10"), false);
    assert.equal(isLess("Z", "a"), true);
    assert.equal(isLess("1Gi", "g"), true, "one string is no quantity: byte order");
    assert.equal(isLess(2, 10), true);
    assert.equal(isLess(0.5, 1.5), true);
    assert.equal(isLess(null, 1), true);
    assert.equal(isLess(1, null), false);
    assert.equal(isLess(null, null), false);
    assert.throws(() => isLess(2, 1.5), /unsortable interface: interface/);
    assert.throws(() => isLess("1", 1), /unsortable interface: interface/);
    assert.throws(() => isLess(true, false), /unsortable type: bool/);
    assert.throws(() => isLess({}, {}), /unsortable type: map\[string\]interface \{\}/);
  });
});

describe("cli: --sort-by's order", () => {
  // 30 ConfigMaps c00..c29 with data.k (or none), in the server's order; kubectl 1.35 sorted them with
  // `--sort-by=.data.k` as `expected` says: ties and missing values where Go's pdqsort leaves them.
  const values = [
    "5",
    "3",
    undefined,
    "10",
    "3",
    "2",
    undefined,
    "5",
    "1",
    "500m",
    "3",
    undefined,
    "2",
    "7",
    "3",
    "5",
    undefined,
    "1",
    "9",
    "3",
    "2",
    "4",
    undefined,
    "3",
    "8",
    "3",
    "6",
    "5",
    "1",
    "0",
  ];
  const items = values.map((k, i) => ({
    metadata: { name: `c${String(i).padStart(2, "0")}` },
    ...(k === undefined ? {} : { data: { k } }),
  }));
  const expected =
    "c11 c16 c02 c22 c06 c29 c09 c28 c08 c17 c05 c20 c12 c10 c14 c23 c25 c04 c01 c19 c21 c00 c15 c27 c07 c26 c13 c24 c18 c03";

  it("puts equal and missing values where kubectl puts them", () => {
    const sorted = sortByPath(items, parseJsonPath("{.data.k}"), (o) => o);
    assert.equal(sorted.map((o) => o.metadata.name).join(" "), expected);
    assert.deepEqual(
      items.map((o) => o.metadata.name),
      values.map((_, i) => `c${String(i).padStart(2, "0")}`),
      "the input is left as it was",
    );
  });

  it("fails when no object has the field, or when values cannot be compared", () => {
    assert.throws(
      () => sortByPath(items, parseJsonPath("{.nope}"), (o) => o),
      /^JsonPathError: couldn't find any field with path "\{\.nope\}" in the list of objects$/,
    );
    assert.throws(
      () => sortByPath(items, parseJsonPath("{.data}"), (o) => o),
      /Field \{\.data\} is an unsortable type: interface, err: unsortable type: map\[string\]interface \{\}/,
    );
    assert.deepEqual(
      sortByPath([], parseJsonPath("{.nope}"), (o) => o),
      [],
    );
  });
});
