/**
 * The command line: one command and its arguments, with kubectl's flags anywhere on the line. Parsed with Node's
 * `util.parseArgs`; each command then checks that it was given only flags and output formats it takes.
 */
import { parseArgs } from "node:util";

/** A wrong command line: the message says what is wrong; exits with the usage code. */
export class UsageError extends Error {
  override readonly name = "UsageError";
  /** The command whose help to point at, if known. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

/** The commands. */
export type Command = "watch" | "kinds" | "get" | "help" | "version";

const commands: readonly Command[] = ["watch", "kinds", "get", "help", "version"];

const options = {
  kubeconfig: { type: "string" },
  context: { type: "string" },
  namespace: { type: "string", short: "n" },
  "all-namespaces": { type: "boolean", short: "A" },
  selector: { type: "string", short: "l" },
  "field-selector": { type: "string" },
  output: { type: "string", short: "o" },
  "no-headers": { type: "boolean" },
  "all-resources": { type: "boolean" },
  "no-initial": { type: "boolean" },
  checkpoint: { type: "string" },
  progress: { type: "boolean" },
  "metadata-only": { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  counts: { type: "boolean" },
  custom: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

type OptionName = keyof typeof options;

const connection: readonly OptionName[] = ["kubeconfig", "context", "help"];

/** The flags each command takes, and its output formats ("" is the default, human-readable one). */
const accepts: Readonly<Record<Command, { flags: readonly OptionName[]; outputs: readonly string[] }>> = {
  watch: {
    flags: [
      ...connection,
      "namespace",
      "all-namespaces",
      "selector",
      "field-selector",
      "output",
      "all-resources",
      "no-initial",
      "checkpoint",
      "progress",
      "metadata-only",
      "verbose",
    ],
    outputs: ["", "json", "yaml"],
  },
  kinds: {
    flags: [...connection, "namespace", "selector", "field-selector", "output", "no-headers", "counts", "custom"],
    outputs: ["", "wide", "name", "json", "yaml"],
  },
  get: {
    flags: [...connection, "namespace", "all-namespaces", "selector", "field-selector", "output", "no-headers"],
    outputs: ["", "wide", "name", "json", "yaml"],
  },
  help: { flags: ["help"], outputs: [""] },
  version: { flags: ["help"], outputs: [""] },
};

/** What the command line asks for. */
export interface Invocation {
  /** undefined: no command given (`kindwatch` or `kindwatch --help`). */
  readonly command: Command | undefined;
  /** The arguments after the command. */
  readonly args: readonly string[];
  readonly help: boolean;
  readonly version: boolean;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly namespace?: string;
  readonly allNamespaces: boolean;
  readonly selector?: string;
  readonly fieldSelector?: string;
  /** "" for the human-readable default. */
  readonly output: string;
  readonly noHeaders: boolean;
  readonly allResources: boolean;
  readonly noInitial: boolean;
  readonly checkpoint?: string;
  readonly progress: boolean;
  readonly metadataOnly: boolean;
  readonly verbose: boolean;
  readonly counts: boolean;
  readonly custom: boolean;
}

function isCommand(word: string | undefined): word is Command {
  return commands.includes(word as Command);
}

/** parseArgs's messages name the API; ours name the flag. */
function rephrase(err: unknown): UsageError {
  const e = err as { code?: string; message?: string };
  const flag = /'(-[^']*)'/.exec(e.message ?? "")?.[1] ?? "";
  if (e.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return new UsageError(`unknown flag ${flag}`);
  if (e.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    const name = /(--[a-z-]+)/.exec(e.message ?? "")?.[1] ?? flag;
    return new UsageError(
      /argument missing/.test(e.message ?? "") ? `flag ${name} needs a value` : `flag ${name} takes no value`,
    );
  }
  return new UsageError(e.message ?? String(err));
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true, tokens: true });
}

/** Parses `argv` (without node and the script); throws {@link UsageError}. */
export function parseCommandLine(argv: readonly string[]): Invocation {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    const firstWord = argv.find((a) => !a.startsWith("-"));
    const failure = rephrase(err);
    throw new UsageError(failure.message, isCommand(firstWord) ? firstWord : undefined);
  }
  const { values, positionals, tokens } = parsed;
  const [first, ...args] = positionals;
  if (first !== undefined && !isCommand(first)) {
    throw new UsageError(`unknown command "${first}": use watch, kinds or get`);
  }
  const command = first;
  const flagWithoutCommand = tokens.find((t) => t.kind === "option" && t.name !== "help" && t.name !== "version");
  if (!command && flagWithoutCommand?.kind === "option") {
    throw new UsageError(`${flagWithoutCommand.rawName} needs a command: watch, kinds or get`);
  }
  if (command) {
    const allowed = accepts[command];
    for (const token of tokens) {
      if (token.kind === "option" && !allowed.flags.includes(token.name as OptionName)) {
        throw new UsageError(`kindwatch ${command} takes no flag ${token.rawName}`, command);
      }
    }
    const output = values.output ?? "";
    if (!allowed.outputs.includes(output)) {
      const formats = allowed.outputs.filter((o) => o).join(", ");
      throw new UsageError(`kindwatch ${command} cannot print -o ${output}: use one of ${formats}`, command);
    }
    if (values.namespace !== undefined && values["all-namespaces"]) {
      throw new UsageError("pass either -n/--namespace or -A/--all-namespaces, not both", command);
    }
    if (values.namespace === "") throw new UsageError("-n/--namespace needs a namespace name", command);
  }
  return {
    command,
    args,
    help: values.help ?? false,
    version: values.version ?? false,
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context !== undefined ? { context: values.context } : {}),
    ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
    allNamespaces: values["all-namespaces"] ?? false,
    ...(values.selector !== undefined ? { selector: values.selector } : {}),
    ...(values["field-selector"] !== undefined ? { fieldSelector: values["field-selector"] } : {}),
    output: values.output ?? "",
    noHeaders: values["no-headers"] ?? false,
    allResources: values["all-resources"] ?? false,
    noInitial: values["no-initial"] ?? false,
    ...(values.checkpoint !== undefined ? { checkpoint: values.checkpoint } : {}),
    progress: values.progress ?? false,
    metadataOnly: values["metadata-only"] ?? false,
    verbose: values.verbose ?? false,
    counts: values.counts ?? false,
    custom: values.custom ?? false,
  };
}
