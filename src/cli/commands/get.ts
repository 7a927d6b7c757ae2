/** `kindwatch get`: objects of any kind, in the server's Table columns as `kubectl get` prints them, or as data. */
import { apiVersionOf } from "../../client/gvr.js";
import type { Table, TableColumn, TableRow } from "../../client/options.js";
import type { ResourceClient } from "../../client/resource.js";
import type { ApiResource } from "../../discovery/types.js";
import { ApiError, isNotFound } from "../../http/errors.js";
import type { KubeObject } from "../../object/types.js";
import { UsageError } from "../args.js";
import { cellText, defaultTable, formatColumns } from "../columns.js";
import type { CommandContext } from "../context.js";
import { failureMessage } from "../errors.js";
import { exitError, exitOk } from "../exit.js";
import { prettyJson, sortedKeys, yamlDocument } from "../output.js";
import { resolveKind } from "../resolve.js";

/** One kind to get, and the names asked for (none: list). */
interface Target {
  readonly resource: ApiResource;
  readonly names: string[];
}

const pageSize = 500;

/** kubectl's `kind.group` in lower case, as `-o name` and multi-kind tables print it. */
function kindPrefix(r: ApiResource): string {
  return r.group ? `${r.kind.toLowerCase()}.${r.group}` : r.kind.toLowerCase();
}

async function targetsOf(ctx: CommandContext): Promise<Target[]> {
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

function clientFor(ctx: CommandContext, r: ApiResource): ResourceClient {
  const base = ctx.cluster().resource(r);
  return r.namespaced && !ctx.inv.allNamespaces ? base.namespace(ctx.namespace()) : base;
}

function selectors(ctx: CommandContext) {
  return {
    ...(ctx.inv.selector ? { labelSelector: ctx.inv.selector } : {}),
    ...(ctx.inv.fieldSelector ? { fieldSelector: ctx.inv.fieldSelector } : {}),
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
  try {
    if (t.names.length > 0) {
      for (const name of t.names) {
        try {
          add(await client.table({ name, signal: ctx.signal }));
        } catch (err) {
          if (!isNotFound(err)) throw err;
          errors.push(failureMessage(err));
        }
      }
    } else {
      let token: string | undefined;
      do {
        const table = await client.table({ ...selectors(ctx), limit: pageSize, ...(token ? { continue: token } : {}) });
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
 * An object as `kubectl get -o json` shows it: list items of built-in kinds come without apiVersion and kind, which
 * kubectl fills in, and managedFields are left out (kubectl's --show-managed-fields=false).
 */
function asKubectlShows(o: KubeObject, r: ApiResource): KubeObject {
  const { managedFields: _, ...metadata } = o.metadata ?? {};
  return { ...o, apiVersion: o.apiVersion || apiVersionOf(r), kind: o.kind || r.kind, metadata };
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
        errors.push(failureMessage(err));
      }
    }
  } else {
    for await (const page of client.pages({ ...selectors(ctx), limit: pageSize })) objects.push(...page.items);
  }
  return objects.map((o) => asKubectlShows(o, t.resource));
}

/** Lines of one kind's table as kubectl prints it: NAMESPACE first with -A, `kind/name` when several kinds show. */
function tableLines(ctx: CommandContext, t: Target, table: Table, withKind: boolean): string[] {
  const wide = ctx.inv.output === "wide";
  const withNamespace = ctx.inv.allNamespaces && t.resource.namespaced;
  const shown = table.columnDefinitions.map((c, i) => ({ c, i })).filter(({ c }) => wide || c.priority === 0);
  const nameColumn = table.columnDefinitions.findIndex((c) => c.format === "name" && c.type === "string");
  const header = [...(withNamespace ? ["NAMESPACE"] : []), ...shown.map(({ c }) => c.name.toUpperCase())];
  const rows = table.rows.map((row) => {
    const cells = shown.map(({ i }) => {
      const text = cellText(row.cells[i]);
      return withKind && i === nameColumn ? `${kindPrefix(t.resource)}/${text}` : text;
    });
    return withNamespace ? [cellText(row.object?.metadata?.namespace), ...cells] : cells;
  });
  const lines = formatColumns(ctx.inv.noHeaders ? rows : [header, ...rows]);
  if (ctx.outStyle.enabled && !ctx.inv.noHeaders) lines[0] = ctx.outStyle.bold(lines[0] ?? "");
  return lines;
}

async function printTables(ctx: CommandContext, targets: readonly Target[], errors: string[]): Promise<number> {
  const withKind = targets.length > 1;
  let printed = 0;
  for (const t of targets) {
    const table = await tableOf(ctx, t, errors);
    if (!table || table.rows.length === 0) continue;
    if (printed > 0) await ctx.out.write("\n");
    await ctx.out.lines(tableLines(ctx, t, table, withKind));
    printed += table.rows.length;
  }
  return printed;
}

async function printData(ctx: CommandContext, targets: readonly Target[], errors: string[]): Promise<number> {
  const objects: { t: Target; o: KubeObject }[] = [];
  for (const t of targets) for (const o of await objectsOf(ctx, t, errors)) objects.push({ t, o });
  const single = targets.length === 1 && targets[0]?.names.length === 1 && objects.length === 1;
  if (ctx.inv.output === "name") {
    await ctx.out.lines(objects.map(({ t, o }) => `${kindPrefix(t.resource)}/${o.metadata?.name ?? ""}`));
    return objects.length;
  }
  const value = single
    ? objects[0]?.o
    : { apiVersion: "v1", items: objects.map(({ o }) => o), kind: "List", metadata: { resourceVersion: "" } };
  const sorted = sortedKeys(value);
  await ctx.out.write(ctx.inv.output === "json" ? prettyJson(sorted) : yamlDocument(sorted));
  return objects.length;
}

/** Runs `kindwatch get`. */
export async function getCommand(ctx: CommandContext): Promise<number> {
  const targets = await targetsOf(ctx);
  const errors: string[] = [];
  const data = ["json", "yaml", "name"].includes(ctx.inv.output);
  const found = data ? await printData(ctx, targets, errors) : await printTables(ctx, targets, errors);
  for (const message of errors) await ctx.notice(`${ctx.errStyle.red("error:")} ${message}`);
  if (found === 0 && errors.length === 0 && !data) {
    const namespaced = targets.every((t) => t.resource.namespaced);
    await ctx.notice(
      namespaced && !ctx.inv.allNamespaces
        ? `No resources found in ${ctx.namespace()} namespace.`
        : "No resources found",
    );
  }
  return errors.length > 0 ? exitError : exitOk;
}
