/** Waiting on conditions with deadlines, never on sleeps. */
import { randomBytes } from "node:crypto";

/**
 * What a condition may answer: `true` or an object when it holds, `false`, `undefined` or `null` while it does not.
 * Numbers and strings are left out on purpose: `0`, `""` and `NaN` read as "not yet" to some and "done" to others, so a
 * check that counts or matches says what it means with a comparison, and the types refuse anything else.
 */
export type Condition<T extends object | true> = T | false | undefined | null;

/** Whether `value` is a condition that holds; throws on a value that is no `Condition` (a check typed around). */
export function holds<T extends object | true>(value: Condition<T>): value is T {
  if (value === true) return true;
  if (value === false || value === undefined || value === null) return false;
  if (typeof value === "object" || typeof value === "function") return true;
  throw new TypeError(`a condition answered ${typeof value} ${String(value)}: answer true, an object, or not yet`);
}

/** Polls `check` until it answers `true` or an object (see `Condition`), or throws after `timeoutMs`. */
export async function waitFor<T extends object | true>(
  what: string,
  check: () => Promise<Condition<T>> | Condition<T>,
  { timeoutMs = 30_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    let value: Condition<T>;
    try {
      value = await check();
    } catch (err) {
      last = err;
      value = undefined;
    }
    if (holds(value)) return value;
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

/**
 * How `promise` has settled so far, for {@link waitFor}: undefined while pending, then `{ resolved: true }` or the
 * rejection's reason (an object; a reason that is not one comes as `{ rejected: reason }`).
 */
export function outcome(promise: Promise<unknown>): () => object | undefined {
  let settled: object | undefined;
  promise.then(
    () => {
      settled = { resolved: true };
    },
    (err: unknown) => {
      settled = typeof err === "object" && err !== null ? err : { rejected: err };
    },
  );
  return () => settled;
}
