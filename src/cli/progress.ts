/**
 * A progress line on stderr: redrawn in place on a terminal, or printed as plain lines (at most one a second) when
 * asked for elsewhere. Writes go straight to the stream: a progress line is never worth waiting for.
 */
import type { ApiError } from "../http/errors.js";
import { connectionFailure } from "./errors.js";
import type { OutStream } from "./output.js";

const clearLine = "\r\x1b[2K";

/** One line of progress that can be updated, cleared (to print something else) and finished. */
export class ProgressLine {
  readonly #stream: OutStream;
  readonly #inPlace: boolean;
  readonly #everyMs: number;
  #visible = false;
  #last = "";
  #lastAt = 0;
  #done = false;

  /** `inPlace`: redraw one line (a terminal); else print a line per change, at most one per `everyMs`. */
  constructor(stream: OutStream, inPlace: boolean, everyMs = 1000) {
    this.#stream = stream;
    this.#inPlace = inPlace;
    this.#everyMs = everyMs;
  }

  /** Shows `text` as the current progress. */
  update(text: string, now = Date.now()): void {
    if (this.#done) return;
    if (this.#inPlace) {
      if (this.#visible && text === this.#last) return;
      this.#stream.write(`${clearLine}${text}`);
      this.#visible = true;
    } else {
      if (text === this.#last || now - this.#lastAt < this.#everyMs) return;
      this.#stream.write(`${text}\n`);
      this.#lastAt = now;
    }
    this.#last = text;
  }

  /** Removes the line from a terminal so that other output starts at the beginning of a line. */
  clear(): void {
    if (this.#inPlace && this.#visible) {
      this.#stream.write(clearLine);
      this.#visible = false;
    }
  }

  /** Replaces the progress with a last line; later updates are ignored. */
  finish(text: string): void {
    if (this.#done) return;
    this.clear();
    this.#stream.write(`${text}\n`);
    this.#done = true;
  }

  /** Whether {@link finish} was called. */
  get done(): boolean {
    return this.#done;
  }
}

/** What the progress line says about the initial lists, and whether they are all in. */
export interface SyncReport {
  readonly settled: boolean;
  readonly text: string;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * The progress of the initial lists: kinds synced of kinds found. Settled once discovery has been read (`discovered`)
 * and every kind found is synced or quarantined (a quarantined kind is retried, but no longer waited for).
 */
export function syncReport(
  kinds: readonly { readonly state: string; readonly objects: number }[],
  discovered: boolean,
  elapsedMs: number,
): SyncReport {
  const synced = kinds.filter((k) => k.state === "synced").length;
  const quarantined = kinds.filter((k) => k.state === "quarantined").length;
  const objects = count(
    kinds.reduce((n, k) => n + k.objects, 0),
    "object",
  );
  const q = quarantined > 0 ? `, ${quarantined} quarantined` : "";
  if (discovered && synced + quarantined >= kinds.length) {
    const secs = (elapsedMs / 1000).toFixed(1);
    return {
      settled: true,
      text: `watching ${count(kinds.length, "kind")} (${synced} synced${q}), ${objects} listed in ${secs}s`,
    };
  }
  if (kinds.length === 0) return { settled: false, text: "finding kinds" };
  return { settled: false, text: `syncing kinds: ${synced} of ${kinds.length} synced${q}, ${objects}` };
}

/**
 * Why the watch is pointless, when the user may watch none of the kinds selected: every kind, tried once, was
 * quarantined as Forbidden. Judged once the initial lists have settled (see {@link syncReport}): then each kind has
 * been tried, and is synced or quarantined. Undefined when at least one kind is watched, or when none was selected.
 */
export function noKindAllowed(
  kinds: readonly { readonly state: string; readonly reason?: string; readonly lastError?: ApiError }[],
): string | undefined {
  const first = kinds[0];
  if (!first || kinds.some((k) => k.state !== "quarantined" || k.lastError?.kind !== "Forbidden")) return undefined;
  const more = kinds.length > 1 ? `; and ${count(kinds.length - 1, "more kind")}` : "";
  return (
    `you may not list and watch any of the ${count(kinds.length, "kind")} selected (${first.reason ?? "forbidden"}${more}): ` +
    "ask for list and watch rights on them, or name kinds you may read (kindwatch watch KIND...)"
  );
}

/** What the connection report needs of a kind's status. */
export interface KindHealth {
  readonly consecutiveErrors: number;
  readonly lastError?: ApiError;
  readonly nextRetryAt?: number;
}

/** The kinds that cannot reach the API server now, and why; see {@link connectionTrouble}. */
export interface ConnectionTrouble {
  /** How many kinds' latest attempt reached no server. */
  readonly kinds: number;
  /** Why, in a few words: "connection refused". */
  readonly why: string;
  /** Until the first of them tries again; 0 while one is trying. */
  readonly retryInMs: number;
}

/**
 * Whether the kinds, together, have lost the connection to the API server: undefined while none of them fails to reach
 * it. One report for all of them, as they all lose it at once when the server goes away.
 */
export function connectionTrouble(kinds: readonly KindHealth[], now: number): ConnectionTrouble | undefined {
  let failing = 0;
  let why: string | undefined;
  let next = Number.POSITIVE_INFINITY;
  for (const k of kinds) {
    const reason = k.consecutiveErrors > 0 && k.lastError ? connectionFailure(k.lastError) : undefined;
    if (!reason) continue;
    failing++;
    why ??= reason;
    if (k.nextRetryAt !== undefined) next = Math.min(next, k.nextRetryAt);
  }
  if (why === undefined) return undefined;
  return { kinds: failing, why, retryInMs: Number.isFinite(next) ? Math.max(0, next - now) : 0 };
}

/** The progress line while the connection is lost: a countdown to the next retry. */
export function retryCountdown(server: string, trouble: ConnectionTrouble): string {
  const when = trouble.retryInMs > 0 ? `in ${(trouble.retryInMs / 1000).toFixed(1)} s` : "now";
  return `no connection to ${server} (${trouble.why}): retrying ${count(trouble.kinds, "kind")} ${when}`;
}

/** Says when the connection to the API server is lost and when it is back: one line each. */
export class ConnectionReport {
  readonly #server: string;
  #lostAt: number | undefined;

  constructor(server: string) {
    this.#server = server;
  }

  /** Whether the connection is lost now, as last observed. */
  get lost(): boolean {
    return this.#lostAt !== undefined;
  }

  /** The line to print when `trouble` (from {@link connectionTrouble}) changes whether the connection is lost. */
  observe(trouble: ConnectionTrouble | undefined, now: number): string | undefined {
    if (trouble && this.#lostAt === undefined) {
      this.#lostAt = now;
      return `lost the connection to ${this.#server} (${trouble.why}); retrying`;
    }
    if (!trouble && this.#lostAt !== undefined) {
      const secs = ((now - this.#lostAt) / 1000).toFixed(1);
      this.#lostAt = undefined;
      return `reconnected to ${this.#server} after ${secs} s`;
    }
    return undefined;
  }
}
