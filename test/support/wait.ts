/** Waiting on conditions with deadlines, never on sleeps. */
import { randomBytes } from "node:crypto";

/** Polls `check` until it returns a value other than `undefined`/`false`, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 30_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: last error: ${last.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A DNS-label-safe name unique to this run, for namespaces, groups and objects. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString("hex")}`;
}

/** How `promise` has settled so far, for {@link waitFor}: undefined while pending, then "resolved" or the reason. */
export function outcome(promise: Promise<unknown>): () => unknown {
  let settled: unknown;
  promise.then(
    () => {
      settled = "resolved";
    },
    (err: unknown) => {
      settled = err;
    },
  );
  return () => settled;
}
