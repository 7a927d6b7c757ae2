/**
 * Token-bucket arithmetic shared by the in-memory backend; the Redis scripts carry the same formulas in Lua (redis.ts),
 * and the tests hold both to the same numbers.
 */
import type { RateLimitSpec } from "./types.js";

/** A bucket's state: its level at time `at` (ms). Absent means full. */
export interface Level {
  level: number;
  at: number;
}

/** The level at `now`: refilled at `perMs` up to `capacity`; a clock that went back refills nothing. */
export function refill(state: Level | undefined, now: number, capacity: number, perMs: number): number {
  if (state === undefined) return capacity;
  return Math.min(capacity, state.level + Math.max(0, now - state.at) * perMs);
}

/** Milliseconds until `level` reaches `target` at `perMs` (0 when it is there); float noise does not add a whole ms. */
export function msUntil(level: number, target: number, perMs: number): number {
  return level >= target ? 0 : Math.ceil((target - level) / perMs - 1e-9);
}

/** A request bucket's capacity and refill per ms, refusing shapes no bucket can have. */
export function rateShape(spec: RateLimitSpec): { capacity: number; perMs: number } {
  if (!(spec.requestsPerSecond > 0) || !Number.isFinite(spec.requestsPerSecond)) {
    throw new RangeError(`requestsPerSecond must be a positive number, not ${spec.requestsPerSecond}`);
  }
  if (!(spec.burst >= 1) || !Number.isFinite(spec.burst)) {
    throw new RangeError(`burst must be a number of at least 1, not ${spec.burst}`);
  }
  return { capacity: spec.burst, perMs: spec.requestsPerSecond / 1000 };
}

/** A budget's capacity (a minute's tokens) and refill per ms. */
export function budgetShape(tokensPerMinute: number): { capacity: number; perMs: number } {
  if (!(tokensPerMinute > 0) || !Number.isFinite(tokensPerMinute)) {
    throw new RangeError(`tokensPerMinute must be a positive number, not ${tokensPerMinute}`);
  }
  return { capacity: tokensPerMinute, perMs: tokensPerMinute / 60_000 };
}

/** What a reservation of `tokens` takes from a budget of `capacity`: at least 1, at most the whole budget. */
export function reservedTokens(tokens: number, capacity: number): number {
  return Math.min(capacity, Math.max(1, Math.ceil(tokens)));
}
