/** Finding the names closest to a mistyped one, for "did you mean". */

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`: optimal string alignment distance. */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const prev = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
      row.push(best);
    }
    rows.push(row);
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/** A name to compare with what was typed, and what to suggest when it is close. */
export interface Candidate {
  readonly key: string;
  readonly label: string;
}

/** The most edits a typed name of this length may be from a suggestion: short names need closer matches. */
function maxDistance(length: number): number {
  return Math.max(1, Math.min(3, Math.floor(length / 3)));
}

/**
 * The labels of the candidates closest to `input` (case-insensitive), best first, at most `limit`: those within a few
 * edits, and those that `input` begins (as cobra suggests commands), in candidate order among equals.
 */
export function closest(input: string, candidates: readonly Candidate[], limit = 5): string[] {
  const typed = input.toLowerCase();
  const scored: { label: string; score: number; order: number }[] = [];
  candidates.forEach((c, order) => {
    const key = c.key.toLowerCase();
    if (key === typed) return;
    const distance = editDistance(typed, key);
    if (distance <= maxDistance(typed.length)) scored.push({ label: c.label, score: distance, order });
    else if (typed.length >= 3 && key.startsWith(typed)) scored.push({ label: c.label, score: 10, order });
  });
  scored.sort((x, y) => x.score - y.score || x.order - y.order);
  const labels: string[] = [];
  for (const s of scored) if (!labels.includes(s.label)) labels.push(s.label);
  return labels.slice(0, limit);
}
