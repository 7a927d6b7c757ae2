/**
 * The decisions of Lease-based leader election, as pure functions of the Lease's record and the local clock, so that
 * tests check them on a fake clock. Semantics of client-go's `tools/leaderelection`: another holder's lease is measured
 * from when THIS process saw its record change (clock skew between machines cannot shorten it), a released Lease
 * (empty holder) is free at once, and a takeover counts one more transition.
 */

/** The election state a `coordination.k8s.io/v1` Lease's spec holds. */
export interface LeaseRecord {
  /** Who holds the lease; empty when nobody does (never held, or released). */
  readonly holderIdentity: string;
  /** How long others wait, from when they observed the last renewal, before they may take the lease. */
  readonly leaseDurationSeconds: number;
  /** When the holder acquired it (`metav1.MicroTime`), if ever. */
  readonly acquireTime: string | undefined;
  /** When the holder last renewed it (`metav1.MicroTime`), if ever. */
  readonly renewTime: string | undefined;
  /** How many times the lease changed holders. */
  readonly leaseTransitions: number;
}

/** Durations of an election, in milliseconds. */
export interface LeaseTiming {
  /** How long others wait after the last renewal they saw before they may take over. */
  readonly leaseDurationMs: number;
  /** How long a leader keeps leading without a successful renewal. */
  readonly renewDeadlineMs: number;
  /** How often candidates try to acquire and the leader renews. */
  readonly retryPeriodMs: number;
}

/** controller-runtime's defaults: 15 s lease, 10 s renew deadline, 2 s retry period. */
export const defaultLeaseTiming: LeaseTiming = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/** client-go's jitter of the acquire retries: each wait is the retry period times 1 to 2.2. */
export const retryJitterFactor = 1.2;

/**
 * Throws unless the timing can keep one leader: a holder that cannot renew must give up (renew deadline) before others
 * may take over (lease duration), and must get several tries within the deadline (retry period).
 */
export function validateLeaseTiming(t: LeaseTiming): void {
  for (const [name, value] of Object.entries(t)) {
    if (!Number.isFinite(value) || value <= 0)
      throw new RangeError(`leader election: ${name} must be > 0, got ${value}`);
  }
  if (t.leaseDurationMs % 1000 !== 0) {
    throw new RangeError(`leader election: leaseDurationMs must be whole seconds (the Lease counts seconds)`);
  }
  if (t.renewDeadlineMs >= t.leaseDurationMs) {
    throw new RangeError(
      `leader election: renewDeadlineMs (${t.renewDeadlineMs}) must be below leaseDurationMs (${t.leaseDurationMs})`,
    );
  }
  if (t.renewDeadlineMs <= retryJitterFactor * t.retryPeriodMs) {
    throw new RangeError(
      `leader election: renewDeadlineMs (${t.renewDeadlineMs}) must exceed ${retryJitterFactor} x retryPeriodMs (${t.retryPeriodMs})`,
    );
  }
}

/** A Lease record as this process last saw it change, and when (local monotonic ms). */
export interface Observation {
  readonly record: LeaseRecord;
  readonly observedAt: number;
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

/**
 * The observation after reading `record` at local time `now`: the clock restarts only when the record changed, so a
 * holder that stopped renewing expires `leaseDurationSeconds` after its last renewal was first seen here.
 */
export function observe(previous: Observation | undefined, record: LeaseRecord, now: number): Observation {
  if (previous && sameRecord(previous.record, record)) return previous;
  return { record, observedAt: now };
}

/** Whether someone other than `identity` holds the lease and its term, as observed here, has not run out at `now`. */
export function heldByOther(observation: Observation, identity: string, now: number): boolean {
  const { record, observedAt } = observation;
  if (record.holderIdentity === "" || record.holderIdentity === identity) return false;
  return now < observedAt + record.leaseDurationSeconds * 1000;
}

/**
 * The record `identity` writes to acquire or renew the lease at wall time `wallTime` (a MicroTime): a renewal keeps the
 * acquire time and the transition count; a takeover (of a released or expired lease) counts one more transition.
 */
export function claimRecord(
  old: LeaseRecord | undefined,
  identity: string,
  leaseDurationSeconds: number,
  wallTime: string,
): LeaseRecord {
  if (old && old.holderIdentity === identity) {
    return { ...old, leaseDurationSeconds, acquireTime: old.acquireTime ?? wallTime, renewTime: wallTime };
  }
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: wallTime,
    renewTime: wallTime,
    leaseTransitions: old ? old.leaseTransitions + 1 : 0,
  };
}

/**
 * The record a holder writes when it stops gracefully (client-go's ReleaseOnCancel): no holder, a one-second duration,
 * so that others take over at their next try instead of after the lease duration.
 */
export function releaseRecord(old: LeaseRecord, wallTime: string): LeaseRecord {
  return { ...old, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: wallTime, renewTime: wallTime };
}

/** The wait before the next acquire try: the retry period stretched by up to {@link retryJitterFactor}, as client-go. */
export function acquireRetryDelay(retryPeriodMs: number, random: number): number {
  return retryPeriodMs * (1 + retryJitterFactor * random);
}

/**
 * The local time by which a leader must have renewed again or stop leading: the renew deadline counted from when its
 * last successful write was SENT. Others start their lease clock no earlier than when that write reached the server,
 * so the leader stops at least `leaseDuration - renewDeadline` before anyone may take over.
 */
export function leadingDeadline(lastRenewSentAt: number, renewDeadlineMs: number): number {
  return lastRenewSentAt + renewDeadlineMs;
}

/** `metav1.MicroTime` as the API serializes it: RFC 3339 with six fractional digits. */
export function microTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

/** The election record of a Lease object's spec (absent fields as the API defaults them). */
export function recordOf(spec: unknown): LeaseRecord {
  const s = typeof spec === "object" && spec !== null ? (spec as Record<string, unknown>) : {};
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const int = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  return {
    holderIdentity: str(s.holderIdentity) ?? "",
    leaseDurationSeconds: int(s.leaseDurationSeconds),
    acquireTime: str(s.acquireTime),
    renewTime: str(s.renewTime),
    leaseTransitions: int(s.leaseTransitions),
  };
}
