/**
 * Columns laid out as kubectl lays them out (Go's tabwriter with kubectl's settings): each column as wide as its widest
 * cell plus 3 spaces, at least 6, and the last column of a line not padded.
 */
import type { Table } from "../client/options.js";
import type { KubeObject } from "../object/types.js";
import { age } from "./age.js";
import { visibleLength } from "./style.js";

const minWidth = 6;
const padding = 3;

/**
 * Lines of aligned columns; every row should have the same number of cells. With `remembered` (kubectl's tabwriter
 * flag RememberWidths, which `get -w` uses), columns are at least as wide as there, which is widened in turn: rows
 * printed one at a time stay aligned with the wider ones before them.
 */
export function formatColumns(rows: readonly (readonly string[])[], remembered?: number[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i === row.length - 1) return;
      widths[i] = Math.max(widths[i] ?? minWidth, visibleLength(cell) + padding);
    });
  }
  if (remembered) {
    widths.forEach((w, i) => {
      widths[i] = Math.max(w, remembered[i] ?? 0);
      remembered[i] = widths[i] as number;
    });
  }
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visibleLength(cell))))
      .join(""),
  );
}

/** A cell value as kubectl prints it (Go's `fmt.Sprint`): nothing for null, numbers and booleans as text. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return cleanCell(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return cleanCell(JSON.stringify(value));
}

/** A cell cut at its first line break (with "..."), and control characters escaped, so that it stays one cell. */
function cleanCell(text: string): string {
  const cut = text.search(/[\n\r\f]/);
  const line = cut < 0 ? text : `${text.slice(0, cut)}...`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not reach the terminal.
  return line.replace(/[\x00-\x09\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** kubectl's table of objects whose kind has no Table view (some aggregated APIs): NAME and AGE. */
export function defaultTable(objects: readonly KubeObject[], now = Date.now()): Table {
  return {
    apiVersion: "meta.k8s.io/v1",
    kind: "Table",
    metadata: {},
    columnDefinitions: [
      { name: "Name", type: "string", format: "name", priority: 0 },
      { name: "Age", type: "string", priority: 0 },
    ],
    rows: objects.map((o) => ({ cells: [o.metadata?.name ?? "", age(o.metadata?.creationTimestamp, now)], object: o })),
  };
}
