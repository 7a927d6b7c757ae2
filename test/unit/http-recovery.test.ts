/**
 * The wake-up of backoffs when a cluster answers again, on mocked timers and a scripted probe: which failures it works
 * for, how often it probes and when it stops, how woken waiters are spread, and that Retry-After and the wait's own end
 * bound every wake-up.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it, mock } from "node:test";
import { ApiError, type ErrorKind } from "../../src/http/errors.js";
import { isOutage, Recovery, type RecoveryOptions } from "../../src/http/recovery.js";
import { apiError } from "../support/listwatch.js";

const refused = () => new ApiError({ kind: "Network", status: 0, message: "GET /readyz: no response (ECONNREFUSED)" });

/** A server the probe asks: down, up, or answering with a given error; it records when it was asked. */
function scriptedServer() {
  const server = {
    answer: refused() as ApiError | "ok",
    probes: [] as number[],
    probe: async (_signal: AbortSignal) => {
      server.probes.push(Date.now());
      if (server.answer !== "ok") throw server.answer;
    },
  };
  return server;
}

/** A seeded generator, so that jitter and spreading are the same on every run. */
function seeded(seed = 42): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

/** Moves the mocked clock `ms` forward in steps, letting what the timers started run between steps. */
async function advance(ms: number, step = 5): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    mock.timers.tick(Math.min(step, ms - done));
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** When each promise resolved (mocked clock), and with what. */
function track(promises: Promise<boolean>[]) {
  const at: (number | undefined)[] = promises.map(() => undefined);
  const values: (boolean | undefined)[] = promises.map(() => undefined);
  for (const [i, p] of promises.entries()) {
    void p.then((value) => {
      at[i] = Date.now();
      values[i] = value;
    });
  }
  return { at, values, settled: () => at.filter((t) => t !== undefined).length };
}

describe("isOutage", () => {
  it("is true for no response, a client-side timeout and a 5xx; false for refusals and answers", () => {
    const yes: ApiError[] = [
      refused(),
      apiError("Timeout", 0),
      apiError("InternalError", 500),
      apiError("ServiceUnavailable", 503),
      apiError("Timeout", 504),
      new ApiError({ kind: "Unknown", status: 502, message: "bad gateway" }),
    ];
    const no: ApiError[] = (
      [
        ["Forbidden", 403],
        ["NotFound", 404],
        ["TooManyRequests", 429],
        ["Gone", 410],
        ["Unauthorized", 401],
        ["Aborted", 0],
        ["Unknown", 0],
      ] as [ErrorKind, number][]
    ).map(([kind, status]) => apiError(kind, status));
    no.push(new ApiError({ kind: "Network", status: 0, message: "TLS verification failed", transient: false }));
    for (const e of yes) assert.equal(isOutage(e), true, `${e.kind} ${e.status}`);
    for (const e of no) assert.equal(isOutage(e), false, `${e.kind} ${e.status}`);
  });
});

describe("Recovery", () => {
  beforeEach(() => mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  const recovery = (server: ReturnType<typeof scriptedServer>, options: RecoveryOptions = {}) =>
    new Recovery(server.probe, { random: seeded(), ...options });

  it("wakes the waiters of an outage once the server answers again, spread over a window that grows with their number", async () => {
    for (const [count, window] of [
      [3, 30],
      [40, 400],
      [300, 1000],
    ] as const) {
      const server = scriptedServer();
      const r = recovery(server);
      const waits = track(Array.from({ length: count }, () => r.wait(refused(), 60_000)));
      await advance(3000);
      assert.equal(waits.settled(), 0, "nobody woken while the server is down");
      server.answer = "ok";
      const probesBefore = server.probes.length;
      await advance(3000, 1);
      const upAt = server.probes[probesBefore];
      assert.ok(upAt !== undefined, "probed again");
      assert.equal(waits.settled(), count, `${count} waiters woken`);
      assert.ok(
        waits.values.every((v) => v === true),
        "woken waits resolve true",
      );
      const times = waits.at as number[];
      const first = Math.min(...times);
      const last = Math.max(...times);
      assert.ok(first >= upAt, "nobody before the probe saw the server back");
      assert.ok(last <= upAt + window, `${count} waiters woken within ${last - upAt} ms, over ${window} ms`);
      if (count > 10)
        assert.ok(last - first >= window / 2, `${count} waiters spread over ${last - first} ms, not at once`);
      assert.equal(r.waiting, 0);
    }
  });

  it("probes at once, then at most about once a second while someone waits on an outage, and stops after", async () => {
    const server = scriptedServer();
    const r = recovery(server);
    const start = Date.now();
    const first = track([r.wait(refused(), 5000)]);
    await advance(5000);
    assert.equal(first.settled(), 1);
    assert.ok((server.probes[0] as number) - start <= 5, "the first probe goes out at once");
    const gaps = server.probes.slice(1).map((t, i) => t - (server.probes[i] as number));
    assert.ok(gaps.length >= 3, `${server.probes.length} probes in 5 s`);
    assert.ok(
      gaps.every((g) => g >= 1000 && g <= 1255),
      `gaps between probes ${gaps.join(", ")} ms`,
    );
    await advance(5000);
    const count = server.probes.length;
    await advance(10_000);
    assert.equal(server.probes.length, count, "no probe once nobody waits");
    assert.equal(r.probing, false);

    // A retry that fails again comes back soon after: the probe does not go faster for it.
    track([r.wait(refused(), 300)]);
    await advance(400);
    track([r.wait(refused(), 300)]);
    await advance(2000);
    const recent = server.probes.slice(count);
    assert.ok(recent.length <= 2, `${recent.length} probes for two short waits`);
    if (recent.length === 2) assert.ok((recent[1] as number) - (recent[0] as number) >= 1000);
  });

  it("starts no probe for a wait no longer than its interval, unless the server is already seen down", async () => {
    const server = scriptedServer();
    const r = recovery(server);
    const short = track([r.wait(refused(), 1000)]);
    assert.equal(r.waiting, 0, "a probe could not see the server go and come back within 1 s");
    await advance(1000);
    assert.equal(short.settled(), 1);
    assert.equal(server.probes.length, 0, "a lone reset connection costs no request");

    const long = track([r.wait(refused(), 3000)]);
    await advance(3000);
    assert.equal(long.settled(), 1);
    assert.ok(server.probes.length >= 2, "the server is seen down");
    const again = track([r.wait(refused(), 900)]);
    assert.equal(r.waiting, 1, "while it is down, a short wait may be woken too");
    server.answer = "ok";
    await advance(900);
    assert.equal(again.settled(), 1);
  });

  it("never probes for a refusal (403, 404, 429, Gone): those waits run their full time", async () => {
    const server = scriptedServer();
    const r = recovery(server);
    const waits = track(
      (
        [
          ["Forbidden", 403],
          ["NotFound", 404],
          ["TooManyRequests", 429],
          ["Gone", 410],
        ] as [ErrorKind, number][]
      ).map(([kind, status]) => r.wait(apiError(kind, status), 5000)),
    );
    server.answer = "ok";
    await advance(4995);
    assert.equal(waits.settled(), 0);
    await advance(5);
    assert.equal(waits.settled(), 4);
    assert.equal(server.probes.length, 0, "no probe for failures it cannot see end");
    assert.equal(r.probing, false);
  });

  it("keeps a waiter at its backoff when the server answered the probe all along", async () => {
    const server = scriptedServer();
    server.answer = "ok";
    const r = recovery(server);
    // A failure of this request, not of the server: waking it early would make every retry come within a second.
    const waits = track([r.wait(refused(), 8000)]);
    await advance(7995);
    assert.equal(waits.settled(), 0);
    await advance(5);
    assert.equal(waits.settled(), 1);
    assert.ok(server.probes.length >= 1);
  });

  it("wakes a waiter that came while the server was seen down, not one that came after it was seen back", async () => {
    const server = scriptedServer();
    const r = recovery(server);
    const early = track([r.wait(refused(), 60_000)]);
    await advance(1500);
    const late = track([r.wait(refused(), 60_000)]);
    server.answer = "ok";
    await advance(2000);
    assert.equal(early.settled(), 1);
    assert.equal(late.settled(), 1, "it failed while the server was last seen down");
    const after = track([r.wait(refused(), 20_000)]);
    await advance(19_995);
    assert.equal(after.settled(), 0, "it failed after the server was seen back");
    await advance(5);
    assert.equal(after.settled(), 1);
  });

  it("wakes no sooner than Retry-After asks (notBeforeMs), and never later than the wait's end", async () => {
    const server = scriptedServer();
    const r = recovery(server);
    const unavailable = new ApiError({ kind: "ServiceUnavailable", status: 503, message: "not ready" });
    const limited = track([r.wait(unavailable, 20_000, { notBeforeMs: 5000 })]);
    const short = track([r.wait(refused(), 1500)]);
    await advance(1000);
    server.answer = "ok";
    await advance(1000, 1);
    assert.equal(short.settled(), 1);
    assert.ok((short.at[0] as number) - 1_000_000 <= 1500, "woken or ended, within its own wait");
    assert.equal(limited.settled(), 0, "the server is back, but asked for 5 s");
    await advance(3000, 1);
    assert.equal(limited.settled(), 1);
    const waited = (limited.at[0] as number) - 1_000_000;
    assert.ok(waited >= 5000 && waited <= 5010, `woken after ${waited} ms`);
  });

  it("takes a refused probe (403, 401, 404) for an answer, and a probe's 429 for no news", async () => {
    for (const [kind, status, wakes] of [
      ["Forbidden", 403, true],
      ["Unauthorized", 401, true],
      ["NotFound", 404, true],
      ["TooManyRequests", 429, false],
    ] as [ErrorKind, number, boolean][]) {
      const server = scriptedServer();
      const r = recovery(server);
      const waits = track([r.wait(refused(), 10_000)]);
      await advance(500);
      server.answer = apiError(kind, status);
      await advance(2000);
      assert.equal(waits.settled(), wakes ? 1 : 0, `${status}`);
      await advance(8000);
      assert.equal(waits.settled(), 1);
    }
  });

  it("resolves false when its signal aborts, and stops probing once nobody waits", async () => {
    const server = scriptedServer();
    const r = recovery(server);
    const controller = new AbortController();
    const waits = track([r.wait(refused(), 60_000, { signal: controller.signal })]);
    await advance(2500);
    const count = server.probes.length;
    controller.abort();
    await advance(5);
    assert.deepEqual(waits.values, [false]);
    assert.equal(r.waiting, 0);
    assert.equal(r.probing, false);
    await advance(5000);
    assert.equal(server.probes.length, count);
    assert.equal(await r.wait(refused(), 1000, { signal: AbortSignal.abort() }), false);
  });

  it("stops probing for good when closed; waits then end as plain timers", async () => {
    const server = scriptedServer();
    const r = recovery(server);
    const before = track([r.wait(refused(), 5000)]);
    await advance(1500);
    const count = server.probes.length;
    r.close();
    server.answer = "ok";
    const after = track([r.wait(refused(), 2000)]);
    await advance(2000);
    assert.equal(after.settled(), 1);
    assert.equal(before.settled(), 0);
    await advance(1500);
    assert.equal(before.settled(), 1);
    assert.equal(server.probes.length, count);
  });
});
