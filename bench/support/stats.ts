/** Summaries of repeated measurements. */

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("median of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The smallest and largest of `values`. */
export function range(values: readonly number[]): { min: number; max: number } {
  if (values.length === 0) throw new RangeError("range of no values");
  return { min: Math.min(...values), max: Math.max(...values) };
}

/** The `p`th percentile of `values` by the nearest-rank method (p99 of 50 values is the largest). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError("percentile of no values");
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}
