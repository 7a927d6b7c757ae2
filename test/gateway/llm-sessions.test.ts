/**
 * Session history: the turn cap, the sliding TTL on a fake clock (memory), and the same in a real Redis
 * (Debian's redis-server on loopback, started by test/support/redis.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type ChatMessage,
  GatewayInputError,
  type HistorySpec,
  memorySessions,
  redisSessions,
  type SessionStore,
} from "../../src/gateway/llm/index.js";
import { startRedis, type TestRedis } from "../support/redis.js";
import { waitFor } from "../support/wait.js";

const spec: HistorySpec = { retention: "session", ttlSeconds: 60, maxTurns: 2 };

function turn(n: number): ChatMessage[] {
  return [
    { role: "user", content: `question ${n}` },
    { role: "assistant", content: `answer ${n}` },
  ];
}

/** The contract both stores keep, apart from time. */
function sharedBehaviour(name: string, store: () => SessionStore) {
  it(`${name}: keeps the last maxTurns turns, never system messages, per profile and session`, async () => {
    const s = store();
    await s.append("p", "s1", [{ role: "system", content: "sys" }, ...turn(1)], spec);
    assert.deepEqual(await s.get("p", "s1"), turn(1));
    await s.append("p", "s1", turn(2), spec);
    await s.append("p", "s1", turn(3), spec);
    assert.deepEqual(await s.get("p", "s1"), [...turn(2), ...turn(3)]);
    assert.deepEqual(await s.get("p", "s2"), []);
    assert.deepEqual(await s.get("q", "s1"), []);
    // A turn of two user messages (sent together) and the answer counts as one.
    await s.append("p", "s1", [{ role: "user", content: "a" }, ...turn(4)], spec);
    assert.deepEqual(await s.get("p", "s1"), [...turn(3), { role: "user", content: "a" }, ...turn(4)]);
  });

  it(`${name}: stores nothing when retention is none, and refuses a bad session id`, async () => {
    const s = store();
    await s.append("p", "none", turn(1), { retention: "none" });
    assert.deepEqual(await s.get("p", "none"), []);
    await assert.rejects(s.get("p", "a b"), (err: unknown) => err instanceof GatewayInputError && err.status === 400);
    await assert.rejects(
      s.append("p", "x".repeat(129), turn(1), { ...spec, header: "x-chat" }),
      (err: unknown) => err instanceof GatewayInputError && err.param === "x-chat",
    );
  });
}

describe("memorySessions", () => {
  let t = 1_000_000;
  const store = memorySessions({ now: () => t });
  sharedBehaviour("memory", () => store);

  it("forgets a session ttlSeconds after its last append, not after its first", async () => {
    t = 5_000_000;
    await store.append("p", "ttl", turn(1), spec);
    t += 50_000;
    await store.append("p", "ttl", turn(2), spec);
    t += 50_000; // 100 s after the first append, 50 s after the last
    assert.deepEqual(await store.get("p", "ttl"), [...turn(1), ...turn(2)]);
    t += 10_000; // exactly 60 s after the last append
    assert.deepEqual(await store.get("p", "ttl"), []);
    await store.append("p", "ttl", turn(3), spec);
    assert.deepEqual(await store.get("p", "ttl"), turn(3), "an expired session starts afresh");
  });
  it("sweeps sessions nobody reads again once the map has doubled", async () => {
    const own = memorySessions({ now: () => t });
    for (let i = 0; i < 1500; i++) await own.append("p", `old-${i}`, turn(i), spec);
    t += 61_000;
    for (let i = 0; i < 1000; i++) await own.append("p", `new-${i}`, turn(i), spec);
    assert.ok(own.size <= 1000 + 500, `${own.size} sessions held after the sweep`);
    assert.deepEqual(await own.get("p", "new-999"), turn(999));
  });
});

describe("redisSessions", () => {
  let redis: TestRedis;
  let store: SessionStore;
  before(async () => {
    redis = await startRedis();
    store = redisSessions(redis.url, { prefix: "test:" });
  });
  after(async () => {
    await store.close();
    await redis.stop();
  });
  sharedBehaviour("redis", () => store);

  it("keys expire with the TTL, restarted by every append", async () => {
    const key = "test:session:p:ttl";
    await store.append("p", "ttl", turn(1), spec);
    const first = await redis.client.pttl(key);
    assert.ok(first > 55_000 && first <= 60_000, `pttl ${first}`);
    // Time passing, as Redis sees it: 50 s of the 60 gone.
    await redis.client.pexpire(key, 10_000);
    await store.append("p", "ttl", turn(2), spec);
    const refreshed = await redis.client.pttl(key);
    assert.ok(refreshed > 55_000, `pttl after the second append ${refreshed}`);
    await store.append("p", "short", turn(1), { ...spec, ttlSeconds: 1 });
    await waitFor("the 1 s session to expire", async () => (await store.get("p", "short")).length === 0, {
      timeoutMs: 5_000,
    });
  });

  it("shares sessions between stores on one Redis, as replicas do, and leaves a given client open", async () => {
    const other = redisSessions(redis.client, { prefix: "test:" });
    await other.append("p", "shared", turn(1), spec);
    assert.deepEqual(await store.get("p", "shared"), turn(1));
    await other.close();
    assert.equal(await redis.client.ping(), "PONG");
  });
});
