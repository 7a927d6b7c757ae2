/** A source of the current time; tests pass a fixed one. */
export type Clock = () => Date;

/** The real clock. */
export const systemClock: Clock = () => new Date();

/**
 * Formats a time as Kubernetes serializes `metav1.Time`: RFC 3339 in UTC with whole seconds (`2026-11-25T10:00:00Z`);
 * fractions are truncated, as Go's formatter does. Throws RangeError for an invalid Date, which is a caller's bug.
 */
export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}
