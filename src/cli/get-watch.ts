/**
 * `kindwatch get -w` and `--watch-only`: the list as `kubectl get` prints it, then a line (or object) per change in
 * the same format, the header not repeated; columns stay aligned with the wider rows before them, as kubectl's do.
 * Unlike kubectl, which exits when the server ends its one watch, the library's watcher carries on: it re-watches,
 * and after a relist prints what changed meanwhile (deleted objects in their last known state).
 */

import { type ListWatch, listWatchOf, watcher } from "../cache/watcher.js";
import type { Table, TableColumn, TableRow, WatchEvent } from "../client/options.js";
import type { ResourceClient } from "../client/resource.js";
import { isNotFound } from "../http/errors.js";
import { JsonPathError, parseJsonPath, relaxedJsonPath } from "../object/jsonpath.js";
import type { KubeObject } from "../object/types.js";
import { definedProps } from "../util/defined.js";
import { outputFormat } from "./args.js";
import { formatColumns } from "./columns.js";
import { asKubectlShows, clientFor, selectors, type Target } from "./commands/get.js";
import type { CommandContext } from "./context.js";
import { CliError } from "./errors.js";
import { exitOk } from "./exit.js";
import { kindPrefix, type TableLayout, tableLayout } from "./get-table.js";
import { prettyJson, sortedKeys, yamlPrinter } from "./output.js";
import { sortByPath } from "./sort-by.js";
import { templatePrinter } from "./templates.js";

/** A row of the server's Table as an object the watcher can follow: the row's object metadata, and the row. */
interface RowObject extends KubeObject {
  readonly row: TableRow;
}

function rowObject(row: TableRow): RowObject {
  const object = row.object;
  return { apiVersion: object?.apiVersion ?? "", kind: object?.kind ?? "", metadata: object?.metadata ?? {}, row };
}

function keyOf(o: KubeObject): string {
  return `${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}

/** A list and watch of `client`'s Table view, rows as objects; `columns` learns the column definitions. */
function tableListWatch(
  ctx: CommandContext,
  client: ResourceClient,
  fieldSelector: string | undefined,
  columns: (defs: readonly TableColumn[]) => void,
): ListWatch<RowObject> {
  const selection = {
    labelSelector: ctx.inv.selector || undefined,
    fieldSelector: fieldSelector || undefined,
    // Sorting the first list reads any field of the objects, as with kubectl.
    includeObject: ctx.inv.sortBy ? ("Object" as const) : undefined,
  };
  const learn = (table: Table) => {
    if (table.columnDefinitions.length > 0) columns(table.columnDefinitions);
  };
  return {
    description: `the Table view of ${client.gvr.resource}`,
    list: async (opts) => {
      const table = await client.table({ ...opts, ...selection });
      learn(table);
      return { apiVersion: "v1", kind: "List", metadata: table.metadata, items: table.rows.map(rowObject) };
    },
    watch: (opts) => tableEvents(client.watchTable({ ...opts, ...selection, allowWatchBookmarks: false }), learn),
  };
}

async function* tableEvents(
  events: AsyncIterable<WatchEvent<Table>>,
  learn: (table: Table) => void,
): AsyncGenerator<WatchEvent<RowObject>> {
  for await (const e of events) {
    if (e.type === "ERROR") {
      yield e;
      continue;
    }
    learn(e.object);
    for (const row of e.object.rows) yield { type: e.type, object: rowObject(row) };
  }
}

/** What to print, and how: the table printer's state, or the data printers'. */
interface Printer {
  /** The first list (sorted with --sort-by, as kubectl sorts it); nothing with --watch-only. */
  initial(objects: readonly KubeObject[]): Promise<void>;
  /** One change. */
  change(object: KubeObject): Promise<void>;
}

function tablePrinter(ctx: CommandContext, layout: () => TableLayout | undefined): Printer {
  const widths: number[] = [];
  let headerPrinted = ctx.inv.noHeaders;
  const print = async (rows: readonly TableRow[]) => {
    const shape = layout();
    if (!shape || rows.length === 0) return;
    const cells = rows.map((row) => shape.cells(row));
    const withHeader = !headerPrinted;
    headerPrinted = true;
    const lines = formatColumns(withHeader ? [shape.header, ...cells] : cells, widths);
    if (withHeader && ctx.outStyle.enabled) lines[0] = ctx.outStyle.bold(lines[0] ?? "");
    await ctx.out.lines(lines);
  };
  return {
    initial: (objects) => print(sortedForPrint(ctx, objects as RowObject[], (o) => o.row.object).map((o) => o.row)),
    change: (object) => print([(object as RowObject).row]),
  };
}

async function dataPrinter(ctx: CommandContext, target: Target): Promise<Printer> {
  const output = outputFormat(ctx.inv.output);
  const template = output.template !== undefined ? await templatePrinter(output, ctx.inv.noHeaders) : undefined;
  const toYaml = ctx.inv.output === "yaml" ? await yamlPrinter() : undefined;
  let documents = 0;
  const print = async (objects: readonly KubeObject[]) => {
    const shown = objects.map((o) => asKubectlShows(o, target.resource, ctx.inv.output));
    if (template && "print" in template) {
      await ctx.out.write(shown.map((o) => template.print(o)).join(""));
    } else if (template) {
      const { lines, error } = template.lines(shown);
      await ctx.out.lines(lines);
      if (error) throw error;
    } else if (ctx.inv.output === "name") {
      await ctx.out.lines(shown.map((o) => `${kindPrefix(target.resource)}/${o.metadata?.name ?? ""}`));
    } else if (ctx.inv.output === "json") {
      await ctx.out.write(shown.map((o) => prettyJson(sortedKeys(o))).join(""));
    } else if (toYaml) {
      // kubectl separates the YAML documents it prints, one at a time, with `---`.
      const text = shown.map((o) => `${documents++ > 0 ? "---\n" : ""}${toYaml(sortedKeys(o))}`);
      await ctx.out.write(text.join(""));
    }
  };
  return {
    initial: (objects) => print(sortedForPrint(ctx, objects, (o) => o)),
    change: (object) => print([object]),
  };
}

/** The first list sorted by --sort-by; a sort kubectl cannot do fails the command, as kubectl's printer fails it. */
function sortedForPrint<T>(ctx: CommandContext, objects: readonly T[], objectOf: (item: T) => unknown): T[] {
  const sortBy = ctx.inv.sortBy;
  if (!sortBy || objects.length < 2) return [...objects];
  try {
    return sortByPath(objects, parseJsonPath(relaxedJsonPath(sortBy) ?? sortBy), objectOf);
  } catch (err) {
    if (err instanceof JsonPathError) throw new CliError(`unable to output the provided object: ${err.message}`);
    throw err;
  }
}

/** Fails, as kubectl does, unless the one object named exists (or --ignore-not-found says to end quietly). */
async function exists(ctx: CommandContext, client: ResourceClient, name: string): Promise<boolean> {
  try {
    await client.getMetadata(name, { signal: ctx.signal });
    return true;
  } catch (err) {
    if (isNotFound(err) && ctx.inv.ignoreNotFound) return false;
    throw err;
  }
}

/** Runs `kindwatch get -w` / `--watch-only` on the one kind (and at most one name) of `targets`. */
export async function watchGet(ctx: CommandContext, targets: readonly Target[]): Promise<number> {
  const [target, ...others] = targets;
  if (!target || others.length > 0) throw new CliError("you may only specify a single resource type");
  if (target.names.length > 1) throw new CliError("you may only watch a single resource or type of resource at a time");
  if (ctx.inv.sortBy) {
    await ctx.notice(
      ctx.inv.watch
        ? "warning: --watch requested, --sort-by will be ignored for watch events received"
        : "warning: --watch-only requested, --sort-by will be ignored",
    );
  }
  const client = clientFor(ctx, target.resource);
  const [name] = target.names;
  if (name !== undefined && !(await exists(ctx, client, name))) return exitOk;
  const fieldSelector = name !== undefined ? `metadata.name=${name}` : ctx.inv.fieldSelector;
  const table = ctx.inv.output === "" || ctx.inv.output === "wide";
  let layout: TableLayout | undefined;
  const source: ListWatch<KubeObject> = table
    ? tableListWatch(ctx, client, fieldSelector, (columns) => {
        layout ??= tableLayout(ctx.inv, target.resource, columns, false);
      })
    : listWatchOf(client, { ...selectors(ctx), ...definedProps({ fieldSelector: fieldSelector || undefined }) });
  const printer = table ? tablePrinter(ctx, () => layout) : await dataPrinter(ctx, target);

  /** What was last printed of each object, to tell after a relist what changed unseen. */
  const known = new Map<string, KubeObject>();
  let listing: KubeObject[] = [];
  let listed = false;
  for await (const e of watcher(source, { signal: ctx.signal, streamingList: false })) {
    switch (e.type) {
      case "init-start":
        listing = [];
        break;
      case "init-object":
        listing.push(e.object);
        break;
      case "init-done":
        if (!listed) {
          if (!ctx.inv.watchOnly) await printer.initial(listing);
          for (const o of listing) known.set(keyOf(o), o);
        } else {
          await printRelist(printer, known, listing);
        }
        listed = true;
        break;
      case "apply":
        known.set(keyOf(e.object), e.object);
        await printer.change(e.object);
        break;
      case "delete":
        known.delete(keyOf(e.object));
        await printer.change(e.object);
        break;
      case "error":
        // Until the first list is printed a failure ends the command, as kubectl's does; later the watcher retries.
        if (!listed) throw e.error;
        break;
    }
  }
  return exitOk;
}

/** After a relist: the objects gone meanwhile (as last printed), then the new and changed ones. */
async function printRelist(printer: Printer, known: Map<string, KubeObject>, listing: readonly KubeObject[]) {
  const fresh = new Map(listing.map((o) => [keyOf(o), o]));
  for (const [key, old] of [...known]) {
    if (fresh.has(key)) continue;
    known.delete(key);
    await printer.change(old);
  }
  for (const [key, o] of fresh) {
    const before = known.get(key);
    known.set(key, o);
    if (before?.metadata?.resourceVersion !== o.metadata?.resourceVersion) await printer.change(o);
  }
}
