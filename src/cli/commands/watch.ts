/**
 * `kindwatch watch`: the watch-all engine's merged stream, printed as it comes: one line per change for people, one
 * JSON object (or YAML document) per event for programs.
 */
import { access, constants } from "node:fs/promises";
import { dirname } from "node:path";
import type { Cluster } from "../../connect.js";
import { isBuiltinGroup } from "../../discovery/snapshot-mapper.js";
import { readCheckpoint } from "../../watchall/checkpoint.js";
import { WatchAll, type WatchAllOptions } from "../../watchall/engine.js";
import type { KindEvent, KindFilter, KindInfo, ObjectEvent, WatchAllEvent } from "../../watchall/types.js";
import type { CommandContext } from "../context.js";
import { CliError } from "../errors.js";
import { exitOk } from "../exit.js";
import { yamlDocument } from "../output.js";
import { ProgressLine } from "../progress.js";
import { resolveKind } from "../resolve.js";
import type { Paint, Style } from "../style.js";
import { summarize } from "../summary.js";

/** Which kinds to watch: the engine's include filter, and an exact check on what it delivers. */
interface Selection {
  readonly include?: KindFilter;
  readonly allResources: boolean;
  /** The engine's filter names resources without their group; this keeps only the groups the user named. */
  accepts(kind: Pick<KindInfo, "group" | "resource">): boolean;
}

/** `Widget.example.com` for custom kinds, `Deployment` for Kubernetes' own. */
export function kindLabel(k: Pick<KindInfo, "group" | "kind">): string {
  return isBuiltinGroup(k.group) ? k.kind : `${k.kind}.${k.group}`;
}

/**
 * The kinds the user named, resolved as kubectl does. Each named kind is listed once first, so that a kind the user
 * may not read fails here with the server's reason instead of waiting in quarantine.
 */
async function selection(ctx: CommandContext, cluster: Cluster): Promise<Selection> {
  if (ctx.inv.args.length === 0) return { allResources: ctx.inv.allResources, accepts: () => true };
  const kinds: string[] = [];
  const categories: string[] = [];
  const groupsByResource = new Map<string, Set<string>>();
  for (const arg of ctx.inv.args.flatMap((a) => a.split(",")).filter((a) => a)) {
    const resolution = await resolveKind(cluster, arg, ctx.signal);
    if (resolution.category) {
      categories.push(resolution.category);
      continue;
    }
    for (const r of resolution.resources) {
      if (!r.verbs.includes("watch") || !r.verbs.includes("list")) {
        throw new CliError(
          `${r.resource}${r.group ? `.${r.group}` : ""} cannot be watched: the server offers no list and watch for it`,
        );
      }
      const base = cluster.resource(r);
      const client = ctx.inv.namespace && r.namespaced ? base.namespace(ctx.inv.namespace) : base;
      await client.list({ limit: 1, signal: ctx.signal });
      kinds.push(r.resource);
      const groups = groupsByResource.get(r.resource) ?? new Set<string>();
      groups.add(r.group);
      groupsByResource.set(r.resource, groups);
    }
  }
  return {
    include: { kinds, categories },
    // Named kinds are watched whether built in or not.
    allResources: true,
    accepts: (k) => groupsByResource.get(k.resource)?.has(k.group) ?? true,
  };
}

/** Fails before watching when the checkpoint cannot be read or its folder cannot be written. */
async function checkCheckpoint(path: string): Promise<void> {
  try {
    await readCheckpoint(path);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  try {
    await access(dirname(path), constants.W_OK);
  } catch {
    throw new CliError(`cannot write the checkpoint ${path}: its folder does not exist or is not writable`);
  }
}

/** The JSON form of an event: object events as documented in `kindwatch watch --help`, kind events with their type. */
export function eventJson(e: WatchAllEvent): Record<string, unknown> {
  if (e.type.startsWith("KIND_")) {
    const k = e as KindEvent;
    return {
      type: k.type,
      group: k.group,
      version: k.version,
      kind: k.kind,
      resource: k.resource,
      namespaced: k.namespaced,
      ...(k.reason !== undefined ? { reason: k.reason } : {}),
      ...(k.previousVersion !== undefined ? { previousVersion: k.previousVersion } : {}),
    };
  }
  const o = e as ObjectEvent;
  return {
    type: o.type,
    origin: o.origin,
    group: o.group,
    version: o.version,
    kind: o.kind,
    namespace: o.namespace,
    name: o.name,
    resourceVersion: o.resourceVersion,
    ...(o.type === "MODIFIED" ? { changedPaths: o.changedPaths ?? [] } : {}),
    ...(o.finalStateUnknown ? { finalStateUnknown: true } : {}),
    object: o.object,
  };
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function clock(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

const eventColours: Readonly<Record<ObjectEvent["type"], (s: Style) => Paint>> = {
  ADDED: (s) => s.green,
  MODIFIED: (s) => s.yellow,
  DELETED: (s) => s.red,
};

/** Prints object events as aligned lines; the kind column widens as longer kinds come. */
class HumanLines {
  readonly #style: Style;
  #kindWidth = 8;

  constructor(style: Style) {
    this.#style = style;
  }

  line(e: ObjectEvent, width: number, now = new Date()): string {
    const s = this.#style;
    const label = kindLabel(e);
    this.#kindWidth = Math.min(40, Math.max(this.#kindWidth, label.length));
    const ref = e.namespace ? `${e.namespace}/${e.name}` : e.name;
    const paint = eventColours[e.type](s);
    const prefix = `${clock(now)}  ${e.type.padEnd(8)}  ${label.padEnd(this.#kindWidth)}  ${ref}`;
    const summary = summarize(e, Math.max(40, width - prefix.length - 2));
    const origin = e.origin === "live" ? "" : s.dim(`(${e.origin})`);
    const tail = [summary, origin].filter((t) => t).join(" ");
    return `${s.dim(clock(now))}  ${paint(e.type.padEnd(8))}  ${label.padEnd(this.#kindWidth)}  ${ref}${tail ? `  ${tail}` : ""}`;
  }
}

/** A notice about a kind for people, or undefined when it is not worth one. */
function kindNotice(e: KindEvent, style: Style, settled: boolean): string | undefined {
  const label = kindLabel(e);
  switch (e.type) {
    case "KIND_QUARANTINED":
      return `${style.yellow("quarantined")} ${label}: ${e.reason ?? "unknown reason"} (retrying)`;
    case "KIND_REMOVED":
      return `${style.yellow("removed")} ${label}${e.reason ? `: ${e.reason}` : ""}`;
    case "KIND_VERSION_CHANGED":
      return `${style.cyan("version changed")} ${label}: now ${e.version}${e.previousVersion ? ` (was ${e.previousVersion})` : ""}`;
    case "KIND_ADDED":
      return settled ? `${style.cyan("watching")} ${label} (new kind)` : undefined;
    default:
      return undefined;
  }
}

/** Runs `kindwatch watch`. */
export async function watchCommand(ctx: CommandContext): Promise<number> {
  const cluster = ctx.cluster();
  const { signal, inv } = ctx;
  // Reaches the server and checks the credentials before anything else, so that failures end the command.
  const first = await cluster.discovery.snapshot({ signal });
  const selected = await selection(ctx, cluster);
  if (inv.checkpoint) await checkCheckpoint(inv.checkpoint);
  const verbose = inv.verbose;
  const errStyle = ctx.errStyle;
  const progress = inv.progress || ctx.err.isTTY ? new ProgressLine(ctx.io.stderr, ctx.err.isTTY) : undefined;
  const options: WatchAllOptions = {
    ...(selected.include ? { include: selected.include } : {}),
    allResources: selected.allResources,
    ...(inv.namespace ? { namespace: inv.namespace } : {}),
    ...(inv.selector ? { labelSelector: inv.selector } : {}),
    ...(inv.fieldSelector ? { fieldSelector: inv.fieldSelector } : {}),
    ...(inv.metadataOnly ? { metadataOnly: true } : {}),
    ...(inv.checkpoint ? { checkpoint: inv.checkpoint } : {}),
    logger: (level, message, fields) => {
      if (level !== "error" && !verbose) return;
      const detail = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
      progress?.clear();
      ctx.io.stderr.write(`${errStyle.dim(`[${level}]`)} ${message}${detail}\n`);
    },
  };
  const engine = new WatchAll(cluster, options);
  const started = Date.now();
  let settled = false;
  const tick = () => {
    const status = engine.status();
    const kinds = status.kinds.filter((k) => selected.accepts(k));
    const synced = kinds.filter((k) => k.state === "synced").length;
    const quarantined = kinds.filter((k) => k.state === "quarantined").length;
    const objects = kinds.reduce((n, k) => n + k.objects, 0);
    const discovered = (cluster.discovery.cached?.generation ?? 0) > first.generation;
    const q = quarantined > 0 ? `, ${quarantined} quarantined` : "";
    if (discovered && synced + quarantined >= kinds.length) {
      settled = true;
      clearInterval(timer);
      const secs = ((Date.now() - started) / 1000).toFixed(1);
      progress?.finish(
        `watching ${count(kinds.length, "kind")} (${synced} synced${q}), ${count(objects, "object")} listed in ${secs}s`,
      );
      return;
    }
    progress?.update(`syncing kinds: ${synced} of ${kinds.length} synced${q}, ${count(objects, "object")}`);
  };
  const timer = setInterval(tick, 100);
  const shareTerminal = ctx.out.isTTY;
  const human = new HumanLines(ctx.outStyle);
  const write = async (text: string) => {
    if (shareTerminal) progress?.clear();
    await ctx.out.write(text);
  };
  try {
    await engine.start(signal);
    for await (const e of engine) {
      if (!selected.accepts(e)) continue;
      if (e.type.startsWith("KIND_")) {
        if (inv.output === "json") await write(`${JSON.stringify(eventJson(e))}\n`);
        else if (inv.output === "yaml") await write(`---\n${yamlDocument(eventJson(e))}`);
        else {
          const notice = kindNotice(e as KindEvent, errStyle, settled);
          if (notice) {
            progress?.clear();
            await ctx.notice(notice);
          }
        }
        continue;
      }
      const o = e as ObjectEvent;
      if (inv.noInitial && o.origin === "initial") continue;
      if (inv.output === "json") await write(`${JSON.stringify(eventJson(o))}\n`);
      else if (inv.output === "yaml") await write(`---\n${yamlDocument(eventJson(o))}`);
      else await write(`${human.line(o, ctx.out.width(200))}\n`);
    }
  } finally {
    clearInterval(timer);
    progress?.clear();
    await engine.stop();
  }
  return exitOk;
}
