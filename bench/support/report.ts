/** The two faces of a benchmark's result: a table for people, then one JSON line for machines. */

/** `{IMPLEMENTATION: {METRIC: value}}`: every metric a cost, lower is better. */
export type Results = Record<string, Record<string, number>>;

/** Lays out rows of cells as a left-aligned text table, the first row being the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  const line = (row: readonly string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  const [head, ...body] = rows;
  if (!head) return "";
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

/**
 * kindwatch's cost divided by each peer's, for every metric both have: `{"METRIC/PEER": ratio}`. `peers` limits the
 * comparison to those implementations (default: every other one), e.g. to leave out a variant of kindwatch itself.
 */
export function ratios(results: Results, ours: string, peers?: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  const mine = results[ours] ?? {};
  for (const [peer, metrics] of Object.entries(results)) {
    if (peer === ours || (peers && !peers.includes(peer))) continue;
    for (const [metric, cost] of Object.entries(metrics)) {
      const own = mine[metric];
      if (own !== undefined && cost > 0) out[`${metric}/${peer}`] = Number((own / cost).toFixed(3));
    }
  }
  return out;
}

/**
 * The machine-readable line that must end a benchmark's output; `peers` as in {@link ratios}. `variants` (other
 * builds of kindwatch, e.g. on HTTP/1.1) get their own ratios to the same peers, under `variant_ratios`.
 */
export function resultLine(
  bench: string,
  results: Results,
  ours: string,
  peers?: readonly string[],
  variants: readonly string[] = [],
): string {
  const line: Record<string, unknown> = { bench, results, ratios: ratios(results, ours, peers) };
  const present = variants.filter((v) => results[v] !== undefined);
  if (present.length > 0) {
    line.variant_ratios = Object.fromEntries(present.map((v) => [v, ratios(results, v, peers)]));
  }
  return JSON.stringify(line);
}
