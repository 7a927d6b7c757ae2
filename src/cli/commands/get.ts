/** `kindwatch get`: objects of any kind, in the server's Table columns as `kubectl get` prints them, or as data. */
import { apiVersionOf } from "../../client/gvr.js";
import type { Table, TableColumn, TableRow } from "../../client/options.js";
import type { ResourceClient } from "../../client/resource.js";
import type { ApiResource } from "../../discovery/types.js";
import { ApiError, isNotFound } from "../../http/errors.js";
import { type JsonPath, JsonPathError, parseJsonPath, relaxedJsonPath } from "../../object/jsonpath.js";
import type { KubeObject } from "../../object/types.js";
import { outputFormat, UsageError } from "../args.js";
import { defaultTable, formatColumns } from "../columns.js";
import type { CommandContext } from "../context.js";
import { CliError, failureMessage } from "../errors.js";
import { exitError, exitOk } from "../exit.js";
import { kindPrefix, tableLayout } from "../get-table.js";
import { relaxedPathMessage } from "../jsonpath.js";
import { prettyJson, sortedKeys, yamlPrinter } from "../output.js";
import { resolveKind } from "../resolve.js";
import { sortByPath, UnsortableError } from "../sort-by.js";
import { templatePrinter } from "../templates.js";

/** One kind to get, and the names asked for (none: list). */
export interface Target {
  readonly resource: ApiResource;
  readonly names: string[];
}

const pageSize = 500;

/** The kinds and names of the command line, resolved. */
export async function targetsOf(ctx: CommandContext): Promise<Target[]> {
  const [first, ...rest] = ctx.inv.args;
  if (!first) {
    throw new UsageError(
      "kindwatch get needs a KIND, e.g. 'kindwatch get pods' or 'kindwatch get widgets NAME'",
      "get",
    );
  }
  const pairs: { type: string; name?: string }[] = [];
  if (first.includes("/")) {
    for (const arg of [first, ...rest]) {
      const slash = arg.indexOf("/");
      if (slash <= 0 || slash === arg.length - 1) {
        throw new UsageError(`"${arg}" is not KIND/NAME: pass every object as KIND/NAME, or KIND then names`, "get");
      }
      pairs.push({ type: arg.slice(0, slash), name: arg.slice(slash + 1) });
    }
  } else {
    const types = first.split(",").filter((t) => t);
    for (const type of types) {
      if (rest.length === 0) pairs.push({ type });
      for (const name of rest) pairs.push({ type, name });
    }
  }
  const named = pairs.some((p) => p.name !== undefined);
  if (named && ctx.inv.allNamespaces) {
    throw new UsageError(
      "an object cannot be got by name across all namespaces: pass -n NAMESPACE instead of -A",
      "get",
    );
  }
  if (named && (ctx.inv.selector || ctx.inv.fieldSelector)) {
    throw new UsageError("names and selectors do not mix: pass names, or -l/--field-selector", "get");
  }
  const targets = new Map<string, Target>();
  const resolved = new Map<string, readonly ApiResource[]>();
  for (const { type, name } of pairs) {
    let resources = resolved.get(type);
    if (!resources) {
      resources = (await resolveKind(ctx.cluster(), type, ctx.signal)).resources;
      resolved.set(type, resources);
    }
    for (const r of resources) {
      const key = `${r.group}/${r.resource}`;
      const target = targets.get(key) ?? { resource: r, names: [] };
      targets.set(key, target);
      if (name !== undefined) target.names.push(name);
    }
  }
  return [...targets.values()];
}

/** The client of `r` in the namespace the command line asks for. */
export function clientFor(ctx: CommandContext, r: ApiResource): ResourceClient {
  const base = ctx.cluster().resource(r);
  return r.namespaced && !ctx.inv.allNamespaces ? base.namespace(ctx.namespace()) : base;
}

/** The command line's selectors, and its signal. */
export function selectors(ctx: CommandContext) {
  return {
    labelSelector: ctx.inv.selector || undefined,
    fieldSelector: ctx.inv.fieldSelector || undefined,
    signal: ctx.signal,
  };
}

/** Whether `err` says the server has no Table view of a kind (some aggregated APIs): then kubectl's default view. */
function tableUnsupported(err: unknown): boolean {
  return err instanceof ApiError && err.kind === "NotAcceptable";
}

/** The rows of one kind: the named objects (misses become messages) or every object, page by page. */
async function tableOf(ctx: CommandContext, t: Target, errors: string[]): Promise<Table | undefined> {
  const client = clientFor(ctx, t.resource);
  let columns: readonly TableColumn[] | undefined;
  const rows: TableRow[] = [];
  const add = (table: Table) => {
    if (table.columnDefinitions.length > 0) columns ??= table.columnDefinitions;
    rows.push(...table.rows);
  };
  // Sorting reads any field of the objects: the rows must carry them whole, as kubectl asks for then.
  const includeObject = ctx.inv.sortBy ? ({ includeObject: "Object" } as const) : {};
  try {
    if (t.names.length > 0) {
      for (const name of t.names) {
        try {
          add(await client.table({ name, signal: ctx.signal, ...includeObject }));
        } catch (err) {
          if (!isNotFound(err)) throw err;
          if (!ctx.inv.ignoreNotFound) errors.push(failureMessage(err));
        }
      }
    } else {
      let token: string | undefined;
      do {
        const table = await client.table({
          ...selectors(ctx),
          ...includeObject,
          limit: pageSize,
          continue: token || undefined,
        });
        add(table);
        token = table.metadata.continue;
      } while (token);
    }
  } catch (err) {
    if (!tableUnsupported(err)) throw err;
    const objects = await objectsOf(ctx, t, errors);
    return defaultTable(objects);
  }
  return columns
    ? { apiVersion: "meta.k8s.io/v1", kind: "Table", metadata: {}, columnDefinitions: columns, rows }
    : undefined;
}

/**
 * An object as kubectl hands it to its printers: list items of built-in kinds come without apiVersion and kind, which
 * kubectl fills in. For JSON and YAML it leaves managedFields out (--show-managed-fields=false); JSONPath and custom
 * columns see them.
 */
export function asKubectlShows(o: KubeObject, r: ApiResource, output: string): KubeObject {
  const typed = { ...o, apiVersion: o.apiVersion || apiVersionOf(r), kind: o.kind || r.kind };
  if (output !== "json" && output !== "yaml") return typed;
  const { managedFields: _, ...metadata } = o.metadata ?? {};
  return { ...typed, metadata };
}

/** The named objects (misses become messages), or every object. */
async function objectsOf(ctx: CommandContext, t: Target, errors: string[]): Promise<KubeObject[]> {
  const client = clientFor(ctx, t.resource);
  const objects: KubeObject[] = [];
  if (t.names.length > 0) {
    for (const name of t.names) {
      try {
        objects.push(await client.get(name, { signal: ctx.signal }));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        if (!ctx.inv.ignoreNotFound) errors.push(failureMessage(err));
      }
    }
  } else {
    for await (const page of client.pages({ ...selectors(ctx), limit: pageSize })) objects.push(...page.items);
  }
  return objects.map((o) => asKubectlShows(o, t.resource, ctx.inv.output));
}

/**
 * The --sort-by path of a table: relaxed where it can be, as written where not (kubectl's table sorter tries both);
 * undefined when it does not parse.
 */
function tableSortPath(sortBy: string): JsonPath | undefined {
  try {
    return parseJsonPath(relaxedJsonPath(sortBy) ?? sortBy);
  } catch {
    return undefined;
  }
}

/**
 * `rows` sorted by --sort-by as kubectl sorts a table; undefined where kubectl's sort fails and it then prints nothing
 * of the table (it drops that error), unless the values cannot be compared, which ends the command.
 */
function sortedRows(ctx: CommandContext, rows: readonly TableRow[]): readonly TableRow[] | undefined {
  const sortBy = ctx.inv.sortBy;
  if (!sortBy || rows.length < 2) return rows;
  const path = tableSortPath(sortBy);
  if (!path) return undefined;
  try {
    return sortByPath(rows, path, (row) => row.object);
  } catch (err) {
    if (err instanceof UnsortableError) throw new CliError(err.message);
    if (err instanceof JsonPathError) return undefined;
    throw err;
  }
}

async function printTables(ctx: CommandContext, targets: readonly Target[], errors: string[]): Promise<number> {
  const withKind = targets.length > 1;
  let printed = 0;
  for (const t of targets) {
    const table = await tableOf(ctx, t, errors);
    if (!table || table.rows.length === 0) continue;
    const rows = sortedRows(ctx, table.rows);
    if (!rows) continue;
    if (printed > 0) await ctx.out.write("\n");
    const layout = tableLayout(ctx.inv, t.resource, table.columnDefinitions, withKind);
    const cells = rows.map((row) => layout.cells(row));
    const lines = formatColumns(ctx.inv.noHeaders ? cells : [layout.header, ...cells]);
    if (ctx.outStyle.enabled && !ctx.inv.noHeaders) lines[0] = ctx.outStyle.bold(lines[0] ?? "");
    await ctx.out.lines(lines);
    printed += rows.length;
  }
  return printed;
}

/** The objects of a list sorted by --sort-by, as kubectl sorts them for its data printers. */
function sortedObjects<T extends { o: KubeObject }>(ctx: CommandContext, objects: T[]): T[] {
  const sortBy = ctx.inv.sortBy;
  if (!sortBy || objects.length === 0) return objects;
  const relaxed = relaxedJsonPath(sortBy);
  if (relaxed === undefined) throw new CliError(relaxedPathMessage);
  try {
    return sortByPath(objects, parseJsonPath(relaxed), ({ o }) => o);
  } catch (err) {
    if (err instanceof JsonPathError) throw new CliError(err.message);
    throw err;
  }
}

async function printData(ctx: CommandContext, targets: readonly Target[], errors: string[]): Promise<number> {
  const output = outputFormat(ctx.inv.output);
  // Templates are read and parsed first: a wrong one fails before anything is fetched.
  const printer = output.template !== undefined ? await templatePrinter(output, ctx.inv.noHeaders) : undefined;
  let objects: { t: Target; o: KubeObject }[] = [];
  for (const t of targets) for (const o of await objectsOf(ctx, t, errors)) objects.push({ t, o });
  // kubectl prints nothing at all, not even an empty list, when it was told to ignore what is not there.
  if (objects.length === 0 && ctx.inv.ignoreNotFound) return 0;
  const single = targets.length === 1 && targets[0]?.names.length === 1 && objects.length === 1;
  if (!single) objects = sortedObjects(ctx, objects);
  if (ctx.inv.output === "name") {
    await ctx.out.lines(objects.map(({ t, o }) => `${kindPrefix(t.resource)}/${o.metadata?.name ?? ""}`));
    return objects.length;
  }
  const value = single
    ? objects[0]?.o
    : { apiVersion: "v1", items: objects.map(({ o }) => o), kind: "List", metadata: { resourceVersion: "" } };
  if (printer && "print" in printer) {
    await ctx.out.write(printer.print(value));
  } else if (printer) {
    const { lines, error } = printer.lines(single ? [value] : objects.map(({ o }) => o));
    await ctx.out.lines(lines);
    if (error) throw error;
  } else {
    const sorted = sortedKeys(value);
    await ctx.out.write(ctx.inv.output === "json" ? prettyJson(sorted) : (await yamlPrinter())(sorted));
  }
  return objects.length;
}

/** Runs `kindwatch get`. */
export async function getCommand(ctx: CommandContext): Promise<number> {
  const targets = await targetsOf(ctx);
  if (ctx.inv.watch || ctx.inv.watchOnly) return (await import("../get-watch.js")).watchGet(ctx, targets);
  const errors: string[] = [];
  const data = ctx.inv.output !== "" && ctx.inv.output !== "wide";
  const found = data ? await printData(ctx, targets, errors) : await printTables(ctx, targets, errors);
  for (const message of errors) await ctx.notice(`${ctx.errStyle.red("error:")} ${message}`);
  if (found === 0 && errors.length === 0 && !data && !ctx.inv.ignoreNotFound) {
    const namespaced = targets.every((t) => t.resource.namespaced);
    await ctx.notice(
      namespaced && !ctx.inv.allNamespaces
        ? `No resources found in ${ctx.namespace()} namespace.`
        : "No resources found",
    );
  }
  return errors.length > 0 ? exitError : exitOk;
}
