/** OpenAI's `x-ratelimit-*` response headers, built from limit decisions. */
import type { RateDecision } from "./types.js";

/** What the `-tokens` headers need: a {@link Reservation} or {@link BudgetDenied} fits. */
export interface BudgetState {
  ok: boolean;
  limit: number;
  remaining: number;
  resetMs: number;
  retryAfterMs?: number;
}

/**
 * A duration the way OpenAI writes it in `x-ratelimit-reset-*` (Go's notation): `20ms`, `1s`, `8.64s`, `6m0s`,
 * `1h0m0s`.
 */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return "0s";
  if (total < 1000) return `${total}ms`;
  const hours = Math.floor(total / 3_600_000);
  const minutes = Math.floor((total % 3_600_000) / 60_000);
  const seconds = `${Math.floor((total % 60_000) / 1000)}${fraction(total % 1000)}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

function fraction(ms: number): string {
  return ms === 0 ? "" : `.${String(ms).padStart(3, "0").replace(/0+$/, "")}`;
}

/**
 * The `x-ratelimit-*` headers for a request's bucket decision and its token budget (either may be absent), plus
 * `Retry-After` in whole seconds, rounded up, when either refused it.
 */
export function rateLimitHeaders(decision?: RateDecision, budget?: BudgetState): Record<string, string> {
  const headers: Record<string, string> = {};
  let retryMs: number | undefined;
  if (decision !== undefined) {
    headers["x-ratelimit-limit-requests"] = String(Math.floor(decision.limit));
    headers["x-ratelimit-remaining-requests"] = String(decision.remaining);
    headers["x-ratelimit-reset-requests"] = formatDuration(decision.resetMs);
    if (!decision.allowed) retryMs = decision.retryAfterMs;
  }
  if (budget !== undefined) {
    headers["x-ratelimit-limit-tokens"] = String(Math.floor(budget.limit));
    headers["x-ratelimit-remaining-tokens"] = String(budget.remaining);
    headers["x-ratelimit-reset-tokens"] = formatDuration(budget.resetMs);
    if (!budget.ok) retryMs = Math.max(retryMs ?? 0, budget.retryAfterMs ?? 0);
  }
  if (retryMs !== undefined) headers["retry-after"] = String(Math.max(1, Math.ceil(retryMs / 1000)));
  return headers;
}
