/** Limits kept in this process: no dependency, exact for one replica, time from an injectable clock. */
import { randomUUID } from "node:crypto";
import { budgetShape, type Level, msUntil, rateShape, refill, reservedTokens } from "./bucket.js";
import type { BudgetDenied, Limits, RateDecision, RateLimitSpec, Reservation } from "./types.js";

/** Options of {@link memoryLimits}. */
export interface MemoryLimitsOptions {
  /** Milliseconds now; tests pass a fake clock. Default `Date.now`. */
  clock?: () => number;
  /** How long an unsettled reservation can still be settled (a stream's longest life). Default 15 minutes. */
  reservationTtlMs?: number;
}

/** How often idle state is swept out: full buckets and expired reservations are the same as none. */
const SWEEP_MS = 10_000;

interface Bucket extends Level {
  fullAt: number;
}
interface Held {
  budget: string;
  tokens: number;
  expiresAt: number;
}

/** In-process request buckets and token budgets for a single replica. */
export function memoryLimits(options: MemoryLimitsOptions = {}): Limits {
  const clock = options.clock ?? Date.now;
  const ttl = options.reservationTtlMs ?? 15 * 60_000;
  const buckets = new Map<string, Bucket>();
  const budgets = new Map<string, Bucket>();
  // Insertion order is expiry order (one TTL, a clock that only moves on), so expired ones are always at the front.
  const held = new Map<string, Held>();
  let swept = clock();

  function sweep(now: number) {
    for (const [id, h] of held) {
      if (h.expiresAt > now) break;
      held.delete(id);
    }
    if (now - swept < SWEEP_MS) return;
    swept = now;
    for (const map of [buckets, budgets]) {
      for (const [key, b] of map) if (b.fullAt <= now) map.delete(key);
    }
  }

  function store(map: Map<string, Bucket>, key: string, level: number, now: number, capacity: number, perMs: number) {
    map.set(key, { level, at: now, fullAt: now + msUntil(level, capacity, perMs) });
  }

  function settle(id: string, budget: string, capacity: number, perMs: number, usedTokens: number) {
    const now = clock();
    sweep(now);
    const h = held.get(id);
    if (h === undefined) return;
    held.delete(id);
    const unused = h.tokens - Math.max(0, usedTokens);
    const level = refill(budgets.get(budget), now, capacity, perMs);
    // A refund cannot overfill the bucket; over-use (unused < 0) may take it below zero, a debt later requests wait out.
    store(budgets, budget, unused > 0 ? Math.min(capacity, level + unused) : level + unused, now, capacity, perMs);
  }

  return {
    rate: {
      async take(bucket: string, spec: RateLimitSpec, now = clock()): Promise<RateDecision> {
        const { capacity, perMs } = rateShape(spec);
        sweep(now);
        let level = refill(buckets.get(bucket), now, capacity, perMs);
        const allowed = level >= 1;
        if (allowed) {
          level -= 1;
          store(buckets, bucket, level, now, capacity, perMs);
        }
        return {
          allowed,
          limit: capacity,
          remaining: Math.max(0, Math.floor(level)),
          resetMs: msUntil(level, capacity, perMs),
          retryAfterMs: allowed ? 0 : msUntil(level, 1, perMs),
        };
      },
      async close() {
        buckets.clear();
      },
    },
    budgets: {
      async reserve(
        budget: string,
        tokensPerMinute: number,
        tokens: number,
        now = clock(),
      ): Promise<Reservation | BudgetDenied> {
        const { capacity, perMs } = budgetShape(tokensPerMinute);
        sweep(now);
        const need = reservedTokens(tokens, capacity);
        let level = refill(budgets.get(budget), now, capacity, perMs);
        if (level < need) {
          return {
            ok: false,
            limit: capacity,
            remaining: Math.max(0, Math.floor(level)),
            resetMs: msUntil(level, capacity, perMs),
            retryAfterMs: msUntil(level, need, perMs),
          };
        }
        level -= need;
        store(budgets, budget, level, now, capacity, perMs);
        const id = randomUUID();
        held.set(id, { budget, tokens: need, expiresAt: now + ttl });
        return {
          ok: true,
          id,
          limit: capacity,
          remaining: Math.floor(level),
          resetMs: msUntil(level, capacity, perMs),
          settle: async (usedTokens: number) => settle(id, budget, capacity, perMs, usedTokens),
        };
      },
      async close() {
        budgets.clear();
        held.clear();
      },
    },
  };
}
