/**
 * The columns `kubectl get` prints for a kind: the server's Table columns (the wide ones with -o wide), NAMESPACE
 * first with -A, `kind/name` when several kinds show, then a column per `-L` label and LABELS with --show-labels, as
 * kubectl's table printer decorates the server's Table.
 */
import type { TableColumn, TableRow } from "../client/options.js";
import type { ApiResource } from "../discovery/types.js";
import { goStringCompare } from "../object/gofmt.js";
import type { Invocation } from "./args.js";
import { cellText } from "./columns.js";

/** kubectl's `kind.group` in lower case, as `-o name` and multi-kind tables print it. */
export function kindPrefix(r: ApiResource): string {
  return r.group ? `${r.kind.toLowerCase()}.${r.group}` : r.kind.toLowerCase();
}

/** apimachinery's `labels.FormatLabels`: `k=v` pairs sorted as text, comma-separated; `<none>` when there are none. */
export function formatLabels(labels: Readonly<Record<string, unknown>> | undefined): string {
  const pairs = Object.entries(labels ?? {}).map(([k, v]) => `${k}=${String(v)}`);
  return pairs.length > 0 ? pairs.sort(goStringCompare).join(",") : "<none>";
}

/** A `-L` column's header: the key's last `/`-separated part, in upper case (`app.kubernetes.io/name` → NAME). */
export function labelHeader(key: string): string {
  return (key.split("/").pop() ?? key).toUpperCase();
}

/** How to print one kind's rows: the header, and the cells of any row. */
export interface TableLayout {
  readonly header: readonly string[];
  cells(row: TableRow): string[];
}

/** The layout of `resource`'s table with `columns` (the server's), as the command line asks for. */
export function tableLayout(
  inv: Invocation,
  resource: ApiResource,
  columns: readonly TableColumn[],
  withKind: boolean,
): TableLayout {
  const wide = inv.output === "wide";
  const withNamespace = inv.allNamespaces && resource.namespaced;
  const shown = columns.map((c, i) => ({ c, i })).filter(({ c }) => wide || c.priority === 0);
  const nameColumn = columns.findIndex((c) => c.format === "name" && c.type === "string");
  const header = [
    ...(withNamespace ? ["NAMESPACE"] : []),
    ...shown.map(({ c }) => c.name.toUpperCase()),
    ...inv.labelColumns.map(labelHeader),
    ...(inv.showLabels ? ["LABELS"] : []),
  ];
  return {
    header,
    cells: (row) => {
      const metadata = row.object?.metadata;
      const labels = metadata?.labels;
      return [
        ...(withNamespace ? [cellText(metadata?.namespace)] : []),
        ...shown.map(({ i }) => {
          const text = cellText(row.cells[i]);
          return withKind && i === nameColumn ? `${kindPrefix(resource)}/${text}` : text;
        }),
        ...inv.labelColumns.map((key) => cellText(labels?.[key])),
        ...(inv.showLabels ? [formatLabels(labels)] : []),
      ];
    },
  };
}
