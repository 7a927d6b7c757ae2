/**
 * Limits shared by replicas through Redis. Each decision is one Lua script, atomic on the server, that reads the clock
 * with Redis's own TIME, so replicas on hosts with different clocks count one bucket. Keys expire once idle (a bucket
 * left alone long enough to be full is the same as none), so Redis does not fill up with old buckets.
 *
 * Reservations are stored in Redis, so a settle is a single script wherever it runs. A replica that dies mid-stream
 * never settles: its reservation stays charged in full (nobody knows what the stream used) and the budget refills it at
 * its own rate, so the budget is whole again within a minute; the reservation's record expires after `reservationTtlMs`,
 * and a settle arriving later changes nothing.
 *
 * When Redis cannot be reached, a decision fails closed by default: it rejects with {@link LimitsUnavailableError},
 * which the core answers as `503`, after at most `commandTimeoutMs`. With `failOpen` it admits instead, counting
 * nothing. A settle never rejects: one that cannot reach Redis leaves the reservation charged, as if its replica died.
 */
import { createHash, randomUUID } from "node:crypto";
import { Redis, ReplyError } from "ioredis";
import { budgetShape, rateShape, reservedTokens } from "./bucket.js";
import {
  type BudgetDenied,
  type Limits,
  LimitsUnavailableError,
  type RateDecision,
  type RateLimitSpec,
  type Reservation,
} from "./types.js";

/** Options of {@link redisLimits}. */
export interface RedisLimitsOptions {
  /** Prefix of every key, to share a Redis with other users. Default `kindwatch:limits:`. */
  prefix?: string;
  /** Admit requests while Redis is unreachable instead of refusing them (`503`). Default false. */
  failOpen?: boolean;
  /** How long a decision waits for Redis before it counts as unreachable. Default 1000 ms. */
  commandTimeoutMs?: number;
  /** How long an unsettled reservation can still be settled (a stream's longest life). Default 15 minutes. */
  reservationTtlMs?: number;
  /** Hears every failure to reach Redis (connection errors, failed decisions, lost settles), e.g. to log it. */
  onError?: (err: Error) => void;
}

// The clock of every script: Redis's TIME in ms, to the microsecond.
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
`;
// The bucket at KEYS[1] refilled to now (capacity ARGV[1], ARGV[2] per ms); absent means full; a clock gone back refills nothing.
const LEVEL = `
local cap = tonumber(ARGV[1])
local per = tonumber(ARGV[2])
local s = redis.call('HMGET', KEYS[1], 'v', 't')
local level = cap
if s[1] then level = math.min(cap, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * per) end
local function store(v)
  redis.call('HSET', KEYS[1], 'v', string.format('%.17g', v), 't', string.format('%.3f', now))
  redis.call('PEXPIRE', KEYS[1], string.format('%d', math.ceil((cap - v) / per) + 1000))
end
local function untilLevel(target, v) if v >= target then return 0 end return math.ceil((target - v) / per - 1e-9) end
`;

/** One request from a bucket: {allowed, remaining, resetMs, retryAfterMs}. */
const TAKE = `${NOW}${LEVEL}
local allowed = 0
if level >= 1 then
  level = level - 1
  allowed = 1
  store(level)
end
local retry = 0
if allowed == 0 then retry = untilLevel(1, level) end
return {allowed, math.max(0, math.floor(level)), untilLevel(cap, level), retry}
`;

/** A reservation of ARGV[3] tokens recorded at KEYS[2] for ARGV[4] ms: {ok, remaining, resetMs, retryAfterMs}. */
const RESERVE = `${NOW}${LEVEL}
local need = tonumber(ARGV[3])
if level < need then
  return {0, math.max(0, math.floor(level)), untilLevel(cap, level), untilLevel(need, level)}
end
level = level - need
store(level)
redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
return {1, math.floor(level), untilLevel(cap, level), 0}
`;

/** Ends the reservation at KEYS[2] with ARGV[3] tokens used: refunds the unused part, charges over-use; once only. */
const SETTLE = `
local held = redis.call('GET', KEYS[2])
if not held then return 0 end
redis.call('DEL', KEYS[2])
${NOW}${LEVEL}
local unused = tonumber(held) - tonumber(ARGV[3])
if unused > 0 then level = math.min(cap, level + unused) else level = level + unused end
store(level)
return 1
`;

class Script {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }
}
const scripts = { take: new Script(TAKE), reserve: new Script(RESERVE), settle: new Script(SETTLE) };

/** Errors Redis answers with while it cannot serve (starting, a replica after failover): unavailability, not bugs. */
const UNAVAILABLE_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN)\b/;

/** Request buckets and token budgets shared by replicas through the Redis at `url` (`redis://[:password@]host:port[/db]`). */
export function redisLimits(url: string, options: RedisLimitsOptions = {}): Limits {
  const prefix = options.prefix ?? "kindwatch:limits:";
  const ttl = options.reservationTtlMs ?? 15 * 60_000;
  const timeout = options.commandTimeoutMs ?? 1000;
  const where = redact(url);
  let lastError: Error | undefined;
  const redis = new Redis(url, {
    commandTimeout: timeout,
    // Decisions wait for at most one reconnection attempt (with the timeout as backstop), never for a queue of them.
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  redis.on("error", (err: Error) => {
    lastError = err;
    options.onError?.(err);
  });
  redis.on("ready", () => {
    lastError = undefined;
  });

  async function run(script: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      try {
        return await redis.evalsha(script.sha, keys.length, ...keys, ...args);
      } catch (err) {
        // A Redis that restarted or was flushed has forgotten the script: send it whole once, then its hash works again.
        if (err instanceof ReplyError && String((err as Error).message).startsWith("NOSCRIPT")) {
          return await redis.eval(script.source, keys.length, ...keys, ...args);
        }
        throw err;
      }
    } catch (err) {
      if (err instanceof ReplyError && !UNAVAILABLE_REPLY.test(String((err as Error).message))) throw err;
      const cause = (lastError ?? err) as Error;
      const unavailable = new LimitsUnavailableError(
        `limits unavailable: Redis at ${where} did not answer (${cause.message}); ${options.failOpen ? "admitting uncounted (failOpen)" : "refusing requests until it does"}`,
        { cause: err },
      );
      options.onError?.(unavailable);
      throw unavailable;
    }
  }

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= redis.quit().then(
      () => undefined,
      () => redis.disconnect(),
    );
    return closed;
  };

  return {
    rate: {
      async take(bucket: string, spec: RateLimitSpec): Promise<RateDecision> {
        const { capacity, perMs } = rateShape(spec);
        try {
          const [allowed, remaining, resetMs, retryAfterMs] = numbers(
            await run(scripts.take, [`${prefix}rate:${bucket}`], [capacity, perMs]),
          );
          return { allowed: allowed === 1, limit: capacity, remaining, resetMs, retryAfterMs };
        } catch (err) {
          if (!(options.failOpen && err instanceof LimitsUnavailableError)) throw err;
          return { allowed: true, limit: capacity, remaining: Math.floor(capacity), resetMs: 0, retryAfterMs: 0 };
        }
      },
      close,
    },
    budgets: {
      async reserve(budget: string, tokensPerMinute: number, tokens: number): Promise<Reservation | BudgetDenied> {
        const { capacity, perMs } = budgetShape(tokensPerMinute);
        const need = reservedTokens(tokens, capacity);
        const id = randomUUID();
        const keys = [`${prefix}budget:${budget}`, `${prefix}reservation:${id}`];
        let answer: [number, number, number, number];
        try {
          answer = numbers(await run(scripts.reserve, keys, [capacity, perMs, need, ttl]));
        } catch (err) {
          if (!(options.failOpen && err instanceof LimitsUnavailableError)) throw err;
          const uncounted = { ok: true as const, id, limit: capacity, remaining: Math.floor(capacity), resetMs: 0 };
          return { ...uncounted, settle: async () => {} };
        }
        const [ok, remaining, resetMs, retryAfterMs] = answer;
        if (ok !== 1) return { ok: false, limit: capacity, remaining, resetMs, retryAfterMs };
        return {
          ok: true,
          id,
          limit: capacity,
          remaining,
          resetMs,
          settle: async (usedTokens: number) => {
            await run(scripts.settle, keys, [capacity, perMs, Math.max(0, usedTokens)]).catch((err: unknown) => {
              if (!(err instanceof LimitsUnavailableError)) throw err;
            });
          },
        };
      },
      close,
    },
  };
}

/** A script's reply as numbers (Redis turns Lua numbers into integers). */
function numbers(reply: unknown): [number, number, number, number] {
  if (!Array.isArray(reply) || reply.length !== 4 || !reply.every((n) => typeof n === "number")) {
    throw new Error(`limits: unexpected script reply ${JSON.stringify(reply)}`);
  }
  return reply as [number, number, number, number];
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "6379"}`;
  } catch {
    return "the configured URL";
  }
}
