/** Runs one `kindwatch` command line and says how it ended, as an exit code; the process around it is main.ts's. */
import { type Command, parseCommandLine, UsageError } from "./args.js";
import type { CommandContext, Io } from "./context.js";
import { failureMessage } from "./errors.js";
import { exitError, exitOk, exitUsage } from "./exit.js";
import { helpText } from "./help.js";
import { styleFor } from "./style.js";
import { cliVersion } from "./version.js";

type Runner = (ctx: CommandContext) => Promise<number>;

/** Loaded on demand: help and usage errors then answer without loading the client and its HTTP stack. */
const commands: Readonly<Record<"watch" | "kinds" | "get" | "gateway" | "operator" | "export", () => Promise<Runner>>> =
  {
    watch: async () => (await import("./commands/watch.js")).watchCommand,
    kinds: async () => (await import("./commands/kinds.js")).kindsCommand,
    get: async () => (await import("./commands/get.js")).getCommand,
    gateway: async () => (await import("./commands/gateway.js")).gatewayCommand,
    operator: async () => (await import("./commands/operator.js")).operatorCommand,
    export: async () => (await import("./commands/export.js")).exportCommand,
  };

function usageFailure(io: Io, err: UsageError): number {
  const red = styleFor(io.stderr, io.env).red;
  const help = err.command ? `kindwatch ${err.command} --help` : "kindwatch --help";
  io.stderr.write(`${red("error:")} ${err.message}\nRun '${help}' for usage.\n`);
  return exitUsage;
}

function helpFor(io: Io, topic: string | undefined): number {
  const known = ["watch", "kinds", "get", "gateway", "operator", "export", "help", "version"];
  if (topic !== undefined && !known.includes(topic)) {
    return usageFailure(io, new UsageError(`no help for "${topic}": use watch, kinds, get, gateway or operator`));
  }
  io.stdout.write(`${helpText(topic as Command | undefined)}\n`);
  return exitOk;
}

/** Runs `argv` (the words after `kindwatch`); resolves to the exit code. Never throws. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  let ctx: CommandContext | undefined;
  try {
    const inv = parseCommandLine(argv);
    if (inv.version || inv.command === "version") {
      io.stdout.write(`kindwatch ${cliVersion()}\n`);
      return exitOk;
    }
    if (inv.command === undefined || inv.command === "help") return helpFor(io, inv.args[0]);
    if (inv.help) return helpFor(io, inv.command);
    // Both at once: the loader then reads the files the two share and those of each in one round.
    const [runner, { CommandContext }] = await Promise.all([commands[inv.command](), import("./context.js")]);
    ctx = new CommandContext(inv, io);
    return await runner(ctx);
  } catch (err) {
    if (err instanceof UsageError) return usageFailure(io, err);
    // Stopping was asked for: whatever failed on the way out is not news.
    if (io.signal.aborted) return exitOk;
    const red = styleFor(io.stderr, io.env).red;
    io.stderr.write(`${red("error:")} ${failureMessage(err, ctx?.connected?.config)}\n`);
    return exitError;
  } finally {
    await ctx?.close().catch(() => {});
  }
}
