/** `kindwatch kinds`: every kind the server serves, as `kubectl api-resources` lists them, custom ones marked. */
import type { Cluster } from "../../connect.js";
import { qualifiedName } from "../../discovery/errors.js";
import { isBuiltinGroup, preferredResources } from "../../discovery/snapshot-mapper.js";
import type { ApiResource } from "../../discovery/types.js";
import { isForbidden } from "../../http/errors.js";
import { UsageError } from "../args.js";
import { formatColumns } from "../columns.js";
import type { CommandContext } from "../context.js";
import { failureMessage } from "../errors.js";
import { exitOk } from "../exit.js";
import { prettyJson, yamlPrinter } from "../output.js";

const crdsGvr = { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions" };
const countConcurrency = 8;

/** One kind as `kindwatch kinds -o json` prints it. */
export interface KindRow {
  readonly name: string;
  readonly shortNames: readonly string[];
  readonly apiVersion: string;
  readonly group: string;
  readonly version: string;
  readonly namespaced: boolean;
  readonly kind: string;
  readonly custom: boolean;
  readonly verbs: readonly string[];
  readonly categories: readonly string[];
  /** With --counts: how many objects there are; absent when they could not be counted. */
  readonly count?: number;
  /** With --counts: why they could not be counted. */
  readonly countError?: string;
}

/** kubectl api-resources' order: by group, then by name. */
function byGroupThenName(a: ApiResource, b: ApiResource): number {
  return a.group < b.group
    ? -1
    : a.group > b.group
      ? 1
      : a.resource < b.resource
        ? -1
        : a.resource > b.resource
          ? 1
          : 0;
}

/** The `plural.group` names of the CRDs, or undefined when they cannot be listed (then groups tell what is custom). */
async function crdNames(cluster: Cluster, signal: AbortSignal): Promise<Set<string> | undefined> {
  try {
    // Metadata only: a CRD's full object carries its OpenAPI schemas, most of a large cluster's CRD bytes.
    const names = new Set<string>();
    const crds = cluster.resource(crdsGvr);
    let token: string | undefined;
    do {
      const page = await crds.listMetadata({ limit: 500, signal, ...(token ? { continue: token } : {}) });
      for (const crd of page.items) if (crd.metadata.name) names.add(crd.metadata.name);
      token = page.metadata.continue || undefined;
    } while (token);
    return names;
  } catch (err) {
    if (signal.aborted) throw err;
    return undefined;
  }
}

/** How many objects of `r` there are: one cheap page when the server says how many remain, else every page. */
async function countObjects(ctx: CommandContext, r: ApiResource): Promise<number> {
  const base = ctx.cluster().resource(r);
  const client = ctx.inv.namespace && r.namespaced ? base.namespace(ctx.inv.namespace) : base;
  const selectors = {
    labelSelector: ctx.inv.selector || undefined,
    fieldSelector: ctx.inv.fieldSelector || undefined,
  };
  const first = await client.listMetadata({ ...selectors, limit: 1, signal: ctx.signal });
  const more = first.metadata.continue;
  if (!more) return first.items.length;
  const remaining = first.metadata.remainingItemCount;
  if (typeof remaining === "number") return first.items.length + remaining;
  // With selectors the server cannot know how many remain: count them, a page of metadata at a time.
  let count = first.items.length;
  let token: string | undefined = more;
  while (token) {
    const page = await client.listMetadata({ ...selectors, limit: 500, continue: token, signal: ctx.signal });
    count += page.items.length;
    token = page.metadata.continue;
  }
  return count;
}

/** Counts every listable kind, a few at a time; failures become `countError`. */
async function withCounts(ctx: CommandContext, rows: KindRow[], resources: ApiResource[]): Promise<KindRow[]> {
  const out = [...rows];
  let next = 0;
  const worker = async () => {
    while (next < resources.length && !ctx.signal.aborted) {
      const i = next++;
      const r = resources[i] as ApiResource;
      if (!r.verbs.includes("list")) {
        out[i] = { ...(out[i] as KindRow), countError: "not listable" };
        continue;
      }
      try {
        out[i] = { ...(out[i] as KindRow), count: await countObjects(ctx, r) };
      } catch (err) {
        if (ctx.signal.aborted) throw err;
        const why = isForbidden(err) ? "forbidden" : failureMessage(err, ctx.cluster().config);
        out[i] = { ...(out[i] as KindRow), countError: why };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(countConcurrency, resources.length) }, worker));
  return out;
}

function kindRow(r: ApiResource, crds: Set<string> | undefined): KindRow {
  return {
    name: r.resource,
    shortNames: r.shortNames,
    apiVersion: r.group ? `${r.group}/${r.version}` : r.version,
    group: r.group,
    version: r.version,
    namespaced: r.namespaced,
    kind: r.kind,
    custom: crds?.has(qualifiedName(r)) === true || !isBuiltinGroup(r.group),
    verbs: r.verbs,
    categories: r.categories,
  };
}

function table(ctx: CommandContext, rows: readonly KindRow[]): string[] {
  const wide = ctx.inv.output === "wide";
  const header = ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "CUSTOM"];
  if (ctx.inv.counts) header.push("COUNT");
  if (wide) header.push("VERBS", "CATEGORIES");
  const cells = rows.map((k) => {
    const row = [k.name, k.shortNames.join(","), k.apiVersion, String(k.namespaced), k.kind, String(k.custom)];
    if (ctx.inv.counts) row.push(k.count !== undefined ? String(k.count) : k.countError === "not listable" ? "" : "-");
    if (wide) row.push(k.verbs.join(","), k.categories.join(","));
    return row;
  });
  const lines = formatColumns(ctx.inv.noHeaders ? cells : [header, ...cells]);
  if (ctx.outStyle.enabled && !ctx.inv.noHeaders) lines[0] = ctx.outStyle.bold(lines[0] ?? "");
  return lines;
}

/** Whether the flags select `k`: --custom, and kubectl api-resources' --api-group, --namespaced and --verbs. */
function selected(ctx: CommandContext, k: KindRow): boolean {
  const { custom, apiGroup, namespaced, verbs } = ctx.inv;
  if (custom && !k.custom) return false;
  if (apiGroup !== undefined && k.group !== apiGroup) return false;
  if (namespaced !== undefined && k.namespaced !== namespaced) return false;
  return verbs.every((v) => k.verbs.includes(v));
}

/** Runs `kindwatch kinds`. */
export async function kindsCommand(ctx: CommandContext): Promise<number> {
  if (ctx.inv.args.length > 0) {
    throw new UsageError(`kindwatch kinds takes no arguments (got "${ctx.inv.args[0]}")`, "kinds");
  }
  const cluster = ctx.cluster();
  // As `kubectl api-resources`: what the server serves now, not what the disk cache remembers (revalidated by entity
  // tags, so an unchanged server answers 304).
  const snapshot = await cluster.discovery.refresh({ signal: ctx.signal });
  for (const u of snapshot.unavailable) {
    await ctx.notice(
      `${ctx.errStyle.yellow("warning:")} ${u.group ? `${u.group}/` : ""}${u.version} is not available (${u.reason}): its kinds are missing`,
    );
  }
  const crds = await crdNames(cluster, ctx.signal);
  let resources = preferredResources(snapshot).sort(byGroupThenName);
  let rows = resources.map((r) => kindRow(r, crds));
  const keep = rows.map((k) => selected(ctx, k));
  resources = resources.filter((_, i) => keep[i]);
  rows = rows.filter((_, i) => keep[i]);
  if (ctx.inv.counts) rows = await withCounts(ctx, rows, resources);
  switch (ctx.inv.output) {
    case "json":
      await ctx.out.write(prettyJson(rows));
      break;
    case "yaml":
      await ctx.out.write((await yamlPrinter())(rows));
      break;
    case "name":
      await ctx.out.lines(rows.map((k) => (k.group ? `${k.name}.${k.group}` : k.name)));
      break;
    default:
      await ctx.out.lines(table(ctx, rows));
  }
  for (const k of rows) {
    if (k.countError && k.countError !== "forbidden" && k.countError !== "not listable") {
      await ctx.notice(`${ctx.errStyle.yellow("warning:")} cannot count ${k.name}.${k.group}: ${k.countError}`);
    }
  }
  return exitOk;
}
