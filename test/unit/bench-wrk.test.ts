/** Reading wrk's `--latency` report, as the gateway benchmark does after each saturation run. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseWrk, wrkMicros } from "../../bench/support/wrk.js";

const report = `Running 5s test @ http://127.0.0.1:41000/v1/chat/completions
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.95ms  641.65us   1.02s    69.88%
    Req/Sec    23.28k     1.57k   25.07k    80.00%
  Latency Distribution
     50%  812.00us
     75%    1.30ms
     90%    2.77ms
     99%    1.20s
  115812 requests in 5.00s, 46.59MB read
  Socket errors: connect 0, read 2, write 1, timeout 4
  Non-2xx or 3xx responses: 12
Requests/sec:  23162.31
Transfer/sec:      9.32MB
`;

describe("bench wrk report", () => {
  it("reads counts, rate, percentiles in every unit, and errors", () => {
    assert.deepEqual(parseWrk(report), {
      requests: 115812,
      seconds: 5,
      requestsPerSecond: 23162.31,
      latencyUs: { p50: 812, p75: 1300, p90: 2770, p99: 1_200_000 },
      non2xx: 12,
      socketErrors: 7,
    });
  });

  it("counts no errors when wrk prints none", () => {
    const clean = report.replace(/ {2}Socket errors.*\n/, "").replace(/ {2}Non-2xx.*\n/, "");
    const parsed = parseWrk(clean);
    assert.equal(parsed.non2xx, 0);
    assert.equal(parsed.socketErrors, 0);
  });

  it("converts wrk's durations to microseconds", () => {
    assert.equal(wrkMicros("812.00us"), 812);
    assert.equal(wrkMicros("1.10ms"), 1100);
    assert.equal(wrkMicros("2.00s"), 2_000_000);
    assert.equal(wrkMicros("1.50m"), 90_000_000);
    assert.throws(() => wrkMicros("fast"), /not a wrk duration/);
  });

  it("refuses a report without the latency distribution", () => {
    const without = report.replace(/ {2}Latency Distribution\n(?: {5}\d+%.*\n)+/, "");
    assert.throws(() => parseWrk(without), /no 50% latency \(was it run with --latency\?\)/);
    assert.throws(() => parseWrk("wrk: connection refused\n"), /no request count or rate/);
  });
});
