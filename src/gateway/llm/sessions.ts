/**
 * Session history for profiles with `retention: session`. History is kept as turns, one per `append`: what the caller
 * sent that time and the answer, i.e. one user+assistant exchange. The cap keeps the last `maxTurns` turns; system
 * messages are never stored (the profile's system prompt is put first on every request), so they never count. The TTL
 * is sliding: every append restarts it, so a conversation lives as long as it is active.
 */
import { Redis } from "ioredis";
import { GatewayInputError } from "../errors.js";
import type { ChatMessage, HistorySpec } from "./wire.js";

/** Defaults of a profile's `history` when it names none. */
export const HISTORY_DEFAULTS = { ttlSeconds: 3600, maxTurns: 20, header: "x-session-id" } as const;

/** Session history: in memory or Redis; TTL and turn cap. */
export interface SessionStore {
  /** The stored messages of a session, oldest first (empty when unknown or expired). */
  get(profile: string, session: string): Promise<ChatMessage[]>;
  /** Adds one turn (the caller's new messages and the answer), keeps the last `maxTurns`, restarts the TTL. */
  append(profile: string, session: string, turn: ChatMessage[], spec: HistorySpec): Promise<void>;
  close(): Promise<void>;
}

const SESSION_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Refuses a session id that is empty, too long or has characters beyond `[A-Za-z0-9._:@-]` (a 400 on the header). */
export function checkSessionId(session: string, header: string = HISTORY_DEFAULTS.header): void {
  if (!SESSION_ID.test(session)) {
    throw new GatewayInputError(400, `${header} must be 1-128 characters of A-Z a-z 0-9 . _ : @ -`, header);
  }
}

function storable(turn: readonly ChatMessage[]): ChatMessage[] {
  return turn.filter((m) => m.role !== "system" && m.role !== "developer");
}

function limits(spec: HistorySpec): { ttlMs: number; maxTurns: number } {
  return {
    ttlMs: (spec.ttlSeconds ?? HISTORY_DEFAULTS.ttlSeconds) * 1000,
    maxTurns: spec.maxTurns ?? HISTORY_DEFAULTS.maxTurns,
  };
}

interface Entry {
  turns: ChatMessage[][];
  expiresAt: number;
}

/** Sessions in this process's memory; `now` is injectable for tests. Expired sessions are swept as the map grows. */
export function memorySessions(options: { now?: () => number } = {}): SessionStore & { readonly size: number } {
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  let sweepAt = 1024;
  const keyOf = (profile: string, session: string) => `${profile}\u0000${session}`;
  const live = (key: string): Entry | undefined => {
    const e = entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt > now()) return e;
    entries.delete(key);
    return undefined;
  };
  return {
    /** Sessions held, expired ones not yet swept included. */
    get size() {
      return entries.size;
    },
    async get(profile, session) {
      checkSessionId(session);
      return live(keyOf(profile, session))?.turns.flat() ?? [];
    },
    async append(profile, session, turn, spec) {
      checkSessionId(session, spec.header);
      if (spec.retention !== "session") return;
      const { ttlMs, maxTurns } = limits(spec);
      const key = keyOf(profile, session);
      if (maxTurns <= 0) {
        entries.delete(key);
        return;
      }
      const turns = [...(live(key)?.turns ?? []), storable(turn)].slice(-maxTurns);
      entries.set(key, { turns, expiresAt: now() + ttlMs });
      if (entries.size >= sweepAt) {
        // Abandoned sessions are never read again: sweeping when the map has doubled keeps this O(1) amortised.
        const t = now();
        for (const [k, e] of entries) if (e.expiresAt <= t) entries.delete(k);
        sweepAt = Math.max(1024, entries.size * 2);
      }
    },
    async close() {
      entries.clear();
    },
  };
}

/**
 * Sessions in Redis, shared by replicas: a list per session (`PREFIXsession:PROFILE:SESSION`), one JSON turn per
 * element; an append pushes, trims to the last `maxTurns` and restarts the key's expiry in one `MULTI`. Given a URL it
 * owns its connection (closed by `close`); given a client (e.g. the one the limits use) it leaves it open.
 */
export function redisSessions(target: string | Redis, options: { prefix?: string } = {}): SessionStore {
  const owned = typeof target === "string";
  const redis = typeof target === "string" ? new Redis(target) : target;
  const prefix = options.prefix ?? "kindwatch:";
  const keyOf = (profile: string, session: string) => `${prefix}session:${profile}:${session}`;
  return {
    async get(profile, session) {
      checkSessionId(session);
      const turns = await redis.lrange(keyOf(profile, session), 0, -1);
      return turns.flatMap((t) => JSON.parse(t) as ChatMessage[]);
    },
    async append(profile, session, turn, spec) {
      checkSessionId(session, spec.header);
      if (spec.retention !== "session") return;
      const { ttlMs, maxTurns } = limits(spec);
      const key = keyOf(profile, session);
      if (maxTurns <= 0) {
        await redis.del(key);
        return;
      }
      const results = await redis
        .multi()
        .rpush(key, JSON.stringify(storable(turn)))
        .ltrim(key, -maxTurns, -1)
        .pexpire(key, ttlMs)
        .exec();
      const failed = results?.find(([err]) => err !== null)?.[0];
      if (results === null || failed) throw failed ?? new Error("the session append transaction was aborted");
    },
    async close() {
      if (owned) await redis.quit();
    },
  };
}
