/** The arithmetic behind every benchmark's JSON line: medians, percentiles, and ratios that are kindwatch's cost over the peer's. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ratios, resultLine, table } from "../../bench/support/report.js";
import { median, percentile, range } from "../../bench/support/stats.js";

describe("bench report", () => {
  it("takes the middle value, or the mean of the middle two", () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.deepEqual(range([3, 1, 2]), { min: 1, max: 3 });
    assert.throws(() => median([]), RangeError);
  });

  it("takes percentiles by nearest rank", () => {
    const fifty = Array.from({ length: 50 }, (_, i) => 50 - i);
    assert.equal(percentile(fifty, 50), 25);
    assert.equal(percentile(fifty, 99), 50, "p99 of 50 values is the largest");
    assert.equal(percentile([7], 1), 7);
    assert.throws(() => percentile([], 50), RangeError);
  });

  it("divides kindwatch's cost by each peer's, for the metrics both have", () => {
    const results = { kindwatch: { time_s: 1, rss: 50, only: 3 }, peer: { time_s: 2, rss: 100 } };
    assert.deepEqual(ratios(results, "kindwatch"), { "time_s/peer": 0.5, "rss/peer": 0.5 });
  });

  it("compares with the given peers only, when told which", () => {
    const results = { kindwatch: { time_s: 1 }, "kindwatch-lite": { time_s: 0.5 }, peer: { time_s: 4 } };
    assert.deepEqual(ratios(results, "kindwatch", ["peer"]), { "time_s/peer": 0.25 });
    assert.deepEqual(JSON.parse(resultLine("x", results, "kindwatch", ["peer"])).ratios, { "time_s/peer": 0.25 });
  });

  it("gives a variant of kindwatch its own ratios to the same peers", () => {
    const results = { kindwatch: { rss: 40 }, "kindwatch-http1": { rss: 80 }, peer: { rss: 100 } };
    const line = JSON.parse(resultLine("x", results, "kindwatch", ["peer"], ["kindwatch-http1", "absent"]));
    assert.deepEqual(line.ratios, { "rss/peer": 0.4 });
    assert.deepEqual(line.variant_ratios, { "kindwatch-http1": { "rss/peer": 0.8 } });
  });

  it("ends with one JSON object in the agreed shape", () => {
    const line = resultLine("list", { kindwatch: { time_s: 3 }, peer: { time_s: 4 } }, "kindwatch");
    assert.deepEqual(JSON.parse(line), {
      bench: "list",
      results: { kindwatch: { time_s: 3 }, peer: { time_s: 4 } },
      ratios: { "time_s/peer": 0.75 },
    });
  });

  it("aligns columns under a ruled header", () => {
    assert.equal(
      table([
        ["a", "bb"],
        ["ccc", "d"],
      ]),
      "a    bb\n---  --\nccc  d",
    );
  });
});
