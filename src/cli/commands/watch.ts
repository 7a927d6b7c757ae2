/**
 * `kindwatch watch`: the watch-all engine's merged stream, printed as it comes: one line per change for people, one
 * JSON object (or YAML document) per event for programs.
 */
import { access, constants } from "node:fs/promises";
import { dirname } from "node:path";
import { readCheckpoint } from "../../watchall/checkpoint.js";
import { WatchAll, type WatchAllOptions } from "../../watchall/engine.js";
import type { KindEvent, ObjectEvent, WatchAllEvent } from "../../watchall/types.js";
import type { CommandContext } from "../context.js";
import { CliError } from "../errors.js";
import { exitOk } from "../exit.js";
import { yamlPrinter } from "../output.js";
import {
  ConnectionReport,
  connectionTrouble,
  noKindAllowed,
  ProgressLine,
  retryCountdown,
  syncReport,
} from "../progress.js";
import { eventJson, HumanLines, kindNotice } from "../watch-format.js";
import { type Selection, selection } from "../watch-select.js";

/** Fails before watching when the checkpoint cannot be read or its folder cannot be written. */
export async function checkCheckpoint(path: string): Promise<void> {
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

/** The engine's options from the command line; `clearLines` takes the progress lines off before a log line. */
export function engineOptions(ctx: CommandContext, selected: Selection, clearLines: () => void): WatchAllOptions {
  const { inv, errStyle } = ctx;
  // -n: only that namespace's objects (the engine then leaves cluster-scoped kinds out); -A or neither: every namespace.
  const include = inv.namespace ? { ...selected.include, namespaces: [inv.namespace] } : selected.include;
  return {
    include,
    allResources: selected.allResources,
    labelSelector: inv.selector || undefined,
    fieldSelector: inv.fieldSelector || undefined,
    metadataOnly: inv.metadataOnly || undefined,
    checkpoint: inv.checkpoint || undefined,
    logger: (level, message, fields) => {
      // Retries are routine and would drown the output; failures (a checkpoint that cannot be saved) are not.
      if (level !== "error" && !inv.verbose) return;
      const { stack, ...rest } = fields ?? {};
      const detail = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : "";
      // A stack only helps whoever debugs it: shown with -v, as Node prints it.
      const trace = inv.verbose && typeof stack === "string" ? `\n${stack}` : "";
      clearLines();
      ctx.io.stderr.write(`${errStyle.dim(`[${level}]`)} ${message}${detail}${trace}\n`);
    },
  };
}

/** Runs `kindwatch watch`. */
export async function watchCommand(ctx: CommandContext): Promise<number> {
  const { signal, inv } = ctx;
  const cluster = ctx.cluster();
  // Without a fresh disk cache this reaches the server and checks the credentials before anything else, so that such
  // failures end the command; with one, the engine's own first discovery, which always asks the server, ends it.
  const first = await cluster.discovery.snapshot({ signal });
  const selected = await selection(ctx, cluster);
  if (inv.checkpoint) await checkCheckpoint(inv.checkpoint);
  const progress = inv.progress || ctx.err.isTTY ? new ProgressLine(ctx.io.stderr, ctx.err.isTTY) : undefined;
  // On a terminal, a lost connection shows a countdown to the next retry in place of the progress.
  const countdown = ctx.err.isTTY ? new ProgressLine(ctx.io.stderr, true) : undefined;
  const clearLines = () => {
    progress?.clear();
    countdown?.clear();
  };
  const engine = new WatchAll(cluster, engineOptions(ctx, selected, clearLines));
  const server = cluster.config.server;
  const connection = new ConnectionReport(server);

  const started = Date.now();
  let settled = false;
  /** Why there is nothing to watch: the command then ends with this error. */
  let refused: string | undefined;
  const tick = () => {
    const now = Date.now();
    const kinds = engine.status().kinds.filter((k) => selected.accepts(k));
    const trouble = connectionTrouble(kinds, now);
    const change = connection.observe(trouble, now);
    if (change) {
      clearLines();
      ctx.io.stderr.write(`${change}\n`);
    }
    if (!settled) {
      // The engine reads discovery anew when it starts: until then, the kinds it has are not all there are.
      const discovered = (cluster.discovery.cached?.generation ?? 0) > first.generation;
      const report = syncReport(kinds, discovered, now - started);
      if (report.settled) {
        settled = true;
        clearLines();
        // Waiting on would print nothing, ever: rights are not granted while someone stares at an empty terminal.
        refused = noKindAllowed(kinds);
        if (refused) void engine.stop();
        else progress?.finish(report.text);
      } else if (!trouble || !countdown) {
        progress?.update(report.text);
      }
    }
    if (trouble && countdown) {
      progress?.clear();
      countdown.update(retryCountdown(server, trouble));
    } else {
      countdown?.clear();
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    // Often while the lists load or the connection is lost, for the progress; once a second otherwise: a status reads
    // every kind's store.
    timer = setTimeout(
      () => {
        tick();
        schedule();
      },
      settled && !connection.lost ? 1000 : 100,
    );
  };
  schedule();

  const human = new HumanLines(ctx.outStyle);
  const print = async (text: string) => {
    // A progress line on the same terminal would be overwritten half-way: take it away first.
    if (ctx.out.isTTY) clearLines();
    await ctx.out.write(text);
  };
  const toYaml = inv.output === "yaml" ? await yamlPrinter() : undefined;
  const printData = (e: WatchAllEvent) =>
    print(toYaml ? `---\n${toYaml(eventJson(e))}` : `${JSON.stringify(eventJson(e))}\n`);
  try {
    await engine.start(signal);
    for await (const e of engine) {
      if (!selected.accepts(e)) continue;
      const isKind = e.type.startsWith("KIND_");
      if (!isKind && inv.noInitial && (e as ObjectEvent).origin === "initial") continue;
      if (inv.output) {
        await printData(e);
      } else if (isKind) {
        const notice = kindNotice(e as KindEvent, ctx.errStyle, settled);
        clearLines();
        if (notice) await ctx.notice(notice);
      } else {
        await print(`${human.line(e as ObjectEvent, ctx.out.width(200))}\n`);
      }
    }
    if (refused) throw new CliError(refused);
  } finally {
    clearTimeout(timer);
    clearLines();
    await engine.stop();
  }
  return exitOk;
}
