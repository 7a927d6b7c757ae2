/**
 * The command line: one command and its arguments, with kubectl's flags anywhere on the line. Parsed with Node's
 * `util.parseArgs`; each command then checks that it was given only flags and output formats it takes.
 */
import { parseArgs } from "node:util";
import { definedProps } from "../util/defined.js";

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
export type Command = "watch" | "kinds" | "get" | "gateway" | "operator" | "export" | "rbac" | "help" | "version";

const commands: readonly Command[] = [
  "watch",
  "kinds",
  "get",
  "gateway",
  "operator",
  "export",
  "rbac",
  "help",
  "version",
];

const options = {
  kubeconfig: { type: "string" },
  context: { type: "string" },
  "cache-dir": { type: "string" },
  "discovery-cache": { type: "boolean" },
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
  watch: { type: "boolean", short: "w" },
  "watch-only": { type: "boolean" },
  "show-labels": { type: "boolean" },
  "label-columns": { type: "string", short: "L", multiple: true },
  "sort-by": { type: "string" },
  "ignore-not-found": { type: "boolean" },
  "api-group": { type: "string" },
  namespaced: { type: "boolean" },
  verbs: { type: "string", multiple: true },
  listen: { type: "string" },
  "admin-listen": { type: "string" },
  "admin-token-file": { type: "string" },
  "admin-token-secret": { type: "string" },
  "admin-tls-cert": { type: "string" },
  "admin-tls-key": { type: "string" },
  "admin-client-ca": { type: "string" },
  "max-body-bytes": { type: "string" },
  "access-log": { type: "boolean" },
  redis: { type: "string" },
  "redis-fail-open": { type: "boolean" },
  "gateway-admin-url": { type: "string" },
  "gateway-token-file": { type: "string" },
  "leader-elect": { type: "boolean" },
  "lease-name": { type: "string" },
  "lease-namespace": { type: "string" },
  "lease-duration": { type: "string" },
  "renew-deadline": { type: "string" },
  "retry-period": { type: "string" },
  "metrics-listen": { type: "string" },
  "service-url-template": { type: "string" },
  sink: { type: "string" },
  "sink-option": { type: "string", multiple: true },
  kinds: { type: "string", multiple: true },
  data: { type: "string" },
  "latest-state": { type: "boolean" },
  "cluster-name": { type: "string" },
  name: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
} as const;

type OptionName = keyof typeof options;

const connection: readonly OptionName[] = ["kubeconfig", "context", "cache-dir", "discovery-cache", "help"];

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
    flags: [
      ...connection,
      "namespace",
      "selector",
      "field-selector",
      "output",
      "no-headers",
      "counts",
      "custom",
      "api-group",
      "namespaced",
      "verbs",
    ],
    outputs: ["", "wide", "name", "json", "yaml"],
  },
  get: {
    flags: [
      ...connection,
      "namespace",
      "all-namespaces",
      "selector",
      "field-selector",
      "output",
      "no-headers",
      "watch",
      "watch-only",
      "show-labels",
      "label-columns",
      "sort-by",
      "ignore-not-found",
    ],
    outputs: [
      "",
      "wide",
      "name",
      "json",
      "yaml",
      "jsonpath=",
      "jsonpath-file=",
      "custom-columns=",
      "custom-columns-file=",
    ],
  },
  gateway: {
    flags: [
      "help",
      "listen",
      "admin-listen",
      "admin-token-file",
      "admin-token-secret",
      "admin-tls-cert",
      "admin-tls-key",
      "admin-client-ca",
      "kubeconfig",
      "context",
      "max-body-bytes",
      "access-log",
      "redis",
      "redis-fail-open",
    ],
    outputs: [""],
  },
  operator: {
    flags: [
      ...connection,
      "namespace",
      "gateway-admin-url",
      "gateway-token-file",
      "leader-elect",
      "lease-name",
      "lease-namespace",
      "lease-duration",
      "renew-deadline",
      "retry-period",
      "metrics-listen",
      "service-url-template",
    ],
    outputs: [""],
  },
  export: {
    flags: [
      ...connection,
      "namespace",
      "all-namespaces",
      "selector",
      "field-selector",
      "all-resources",
      "checkpoint",
      "metadata-only",
      "verbose",
      "sink",
      "sink-option",
      "kinds",
      "data",
      "latest-state",
      "cluster-name",
      "metrics-listen",
    ],
    outputs: [""],
  },
  rbac: {
    flags: [...connection, "namespace", "all-namespaces", "all-resources", "output", "name"],
    outputs: ["", "yaml", "json"],
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
  /** `--cache-dir`: the root of the disk caches; undefined when not given. */
  readonly cacheDir?: string;
  /** false with `--discovery-cache=false`: discovery is not read from or written to disk. */
  readonly discoveryCache: boolean;
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
  /** `get -w`: print the list, then every change. */
  readonly watch: boolean;
  /** `get --watch-only`: print only the changes. */
  readonly watchOnly: boolean;
  readonly showLabels: boolean;
  /** `-L`: label keys shown as columns, each flag's value split at commas. */
  readonly labelColumns: readonly string[];
  readonly sortBy?: string;
  readonly ignoreNotFound: boolean;
  /** `kinds --api-group`: "" is the core group; undefined when not given. */
  readonly apiGroup?: string;
  /** `kinds --namespaced[=true|false]`; undefined when not given. */
  readonly namespaced?: boolean;
  /** `kinds --verbs`: only kinds that support all of these, each flag's value split at commas. */
  readonly verbs: readonly string[];
  /** `gateway --listen`: the data plane's HOST:PORT. */
  readonly listen?: string;
  /** `gateway --admin-listen`: the admin API's HOST:PORT. */
  readonly adminListen?: string;
  /** `gateway --admin-token-file`: the file holding the admin API's bearer token. */
  readonly adminTokenFile?: string;
  /** `gateway --admin-token-secret NAMESPACE/NAME[:KEY]`: the Secret holding the token, watched. */
  readonly adminTokenSecret?: string;
  /** `gateway --admin-tls-cert`, `--admin-tls-key`: the admin API's serving certificate and key files (HTTPS). */
  readonly adminTlsCert?: string;
  readonly adminTlsKey?: string;
  /** `gateway --admin-client-ca`: the CA file of the client certificates the admin API requires (mTLS). */
  readonly adminClientCa?: string;
  /** `gateway --max-body-bytes`, as given (the command checks it). */
  readonly maxBodyBytes?: string;
  /** `gateway --access-log[=true|false]`: one JSON line per request on stdout; on unless `--access-log=false`. */
  readonly accessLog?: boolean;
  /** `gateway --redis`: the Redis URL that replicas share limits and sessions through. */
  readonly redis?: string;
  /** `gateway --redis-fail-open`: admit requests uncounted while Redis is unreachable. */
  readonly redisFailOpen?: boolean;
  /** `operator --gateway-admin-url`: the gateway's admin API. */
  readonly gatewayAdminUrl?: string;
  /** `operator --gateway-token-file`: the file holding the gateway admin API's bearer token. */
  readonly gatewayTokenFile?: string;
  /** `operator --leader-elect`: one active replica, elected on a Lease. */
  readonly leaderElect?: boolean;
  /** `operator --lease-name`: the Lease's name. */
  readonly leaseName?: string;
  /** `operator --lease-namespace`: the Lease's namespace. */
  readonly leaseNamespace?: string;
  /** `operator --lease-duration`, as given (`15s`; the command checks it). */
  readonly leaseDuration?: string;
  /** `operator --renew-deadline`, as given (`10s`). */
  readonly renewDeadline?: string;
  /** `operator --retry-period`, as given (`2s`). */
  readonly retryPeriod?: string;
  /** `operator --metrics-listen`: HOST:PORT of `/metrics`, `/healthz` and `/readyz`. */
  readonly metricsListen?: string;
  /** `operator --service-url-template`: a Service's URL, with {name}, {namespace} and {port}. */
  readonly serviceUrlTemplate?: string;
  /** `export --sink URL`: where events go (`file:///path`, `-`). */
  readonly sink?: string;
  /** `export --sink-option NAME=VALUE` (repeatable), as given (the sink checks names and values). */
  readonly sinkOptions: readonly string[];
  /** `export --kinds`: the kinds to export, each flag's value split at commas (positional KINDs count too). */
  readonly kinds: readonly string[];
  /** `export --data`: object, metadata or patch, as given (the command checks it). */
  readonly data?: string;
  /** `export --latest-state`: an object's unsent changes may merge into its newest state. */
  readonly latestState: boolean;
  /** `export --cluster-name`: the cluster's name in each event's source. */
  readonly clusterName?: string;
  /** `rbac --name`: the name of the ClusterRole (and Role) printed. */
  readonly name?: string;
}

/** An output format and its argument: `jsonpath={.a}` is format "jsonpath" with template "{.a}". */
export interface OutputFormat {
  readonly format: string;
  /** What follows the `=` of a templated format; undefined for the others. */
  readonly template?: string;
}

const templated = ["jsonpath", "jsonpath-file", "custom-columns", "custom-columns-file"];

/** Splits `-o` into its format and template. */
export function outputFormat(output: string): OutputFormat {
  const eq = output.indexOf("=");
  const format = eq < 0 ? output : output.slice(0, eq);
  if (!templated.includes(format)) return { format: output };
  return { format, template: eq < 0 ? "" : output.slice(eq + 1) };
}

/** The boolean flags, which pflag also takes as `--flag=true` or `--flag=false`. */
const booleans = new Set(
  Object.entries(options)
    .filter(([, o]) => o.type === "boolean")
    .map(([name]) => name),
);

/** Go's strconv.ParseBool. */
function parseBool(text: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return undefined;
}

/** `argv` with `--flag=true` as `--flag` and `--flag=false` left out (and remembered), as parseArgs takes neither. */
function explicitBooleans(argv: readonly string[]): { args: string[]; falses: Set<string> } {
  const args: string[] = [];
  const falses = new Set<string>();
  let positional = false;
  for (const arg of argv) {
    const m = positional ? null : /^--([a-z-]+)=(.*)$/s.exec(arg);
    if (arg === "--") positional = true;
    if (!m || !booleans.has(m[1] as string)) {
      args.push(arg);
      continue;
    }
    const value = parseBool(m[2] as string);
    if (value === undefined) {
      throw new UsageError(
        `invalid argument "${m[2]}" for "--${m[1]}" flag: strconv.ParseBool: parsing "${m[2]}": invalid syntax`,
      );
    }
    if (value) args.push(`--${m[1]}`);
    else falses.add(m[1] as string);
  }
  return { args, falses };
}

/** Values of a repeatable flag that also takes comma-separated lists (pflag's string slices). */
function commaList(values: readonly string[] | undefined): string[] {
  return (values ?? []).flatMap((v) => v.split(","));
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
  let falses: Set<string>;
  try {
    const explicit = explicitBooleans(argv);
    falses = explicit.falses;
    parsed = parse(explicit.args);
  } catch (err) {
    const firstWord = argv.find((a) => !a.startsWith("-"));
    const failure = err instanceof UsageError ? err : rephrase(err);
    throw new UsageError(failure.message, isCommand(firstWord) ? firstWord : undefined);
  }
  const { values, positionals, tokens } = parsed;
  const [first, ...args] = positionals;
  if (first !== undefined && !isCommand(first)) {
    throw new UsageError(`unknown command "${first}": use watch, kinds, get, gateway, operator, export or rbac`);
  }
  const command = first;
  const flagWithoutCommand = tokens.find((t) => t.kind === "option" && t.name !== "help" && t.name !== "version");
  if (!command && flagWithoutCommand?.kind === "option") {
    throw new UsageError(`${flagWithoutCommand.rawName} needs a command: watch, kinds, get, gateway, operator or rbac`);
  }
  if (command) {
    const allowed = accepts[command];
    for (const token of tokens) {
      if (token.kind === "option" && !allowed.flags.includes(token.name as OptionName)) {
        throw new UsageError(`kindwatch ${command} takes no flag ${token.rawName}`, command);
      }
    }
    const output = outputOf(values.output);
    const { format, template } = outputFormat(output);
    if (!allowed.outputs.includes(template === undefined ? format : `${format}=`)) {
      const formats = allowed.outputs.filter((o) => o).join(", ");
      throw new UsageError(`kindwatch ${command} cannot print -o ${output}: use one of ${formats}`, command);
    }
    if (template === "") {
      throw new UsageError(
        format.startsWith("custom-columns")
          ? "custom-columns format specified but no custom columns given"
          : "template format specified but no template given",
        command,
      );
    }
    if (values["show-labels"] && output !== "" && output !== "wide") {
      throw new UsageError(`--show-labels option cannot be used with ${output} printer`, command);
    }
    if (values.watch && values["watch-only"]) {
      throw new UsageError("pass either -w/--watch or --watch-only, not both", command);
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
    ...definedProps({
      kubeconfig: values.kubeconfig,
      context: values.context,
      cacheDir: values["cache-dir"],
      namespace: values.namespace,
    }),
    discoveryCache: !falses.has("discovery-cache"),
    allNamespaces: values["all-namespaces"] ?? false,
    ...definedProps({ selector: values.selector, fieldSelector: values["field-selector"] }),
    output: outputOf(values.output),
    noHeaders: values["no-headers"] ?? false,
    allResources: values["all-resources"] ?? false,
    noInitial: values["no-initial"] ?? false,
    ...definedProps({ checkpoint: values.checkpoint }),
    progress: values.progress ?? false,
    metadataOnly: values["metadata-only"] ?? false,
    verbose: values.verbose ?? false,
    counts: values.counts ?? false,
    custom: values.custom ?? false,
    watch: values.watch ?? false,
    watchOnly: values["watch-only"] ?? false,
    showLabels: values["show-labels"] ?? false,
    labelColumns: commaList(values["label-columns"]),
    ...definedProps({ sortBy: values["sort-by"] || undefined }),
    ignoreNotFound: values["ignore-not-found"] ?? false,
    ...definedProps({
      apiGroup: values["api-group"],
      namespaced: values.namespaced ? true : falses.has("namespaced") ? false : undefined,
    }),
    verbs: commaList(values.verbs),
    ...definedProps({
      listen: values.listen,
      adminListen: values["admin-listen"],
      adminTokenFile: values["admin-token-file"],
      adminTokenSecret: values["admin-token-secret"],
      adminTlsCert: values["admin-tls-cert"],
      adminTlsKey: values["admin-tls-key"],
      adminClientCa: values["admin-client-ca"],
      maxBodyBytes: values["max-body-bytes"],
      accessLog: values["access-log"] ? true : falses.has("access-log") ? false : undefined,
      redis: values.redis,
      redisFailOpen: values["redis-fail-open"],
      gatewayAdminUrl: values["gateway-admin-url"],
      gatewayTokenFile: values["gateway-token-file"],
      leaderElect: values["leader-elect"],
      leaseName: values["lease-name"],
      leaseNamespace: values["lease-namespace"],
      leaseDuration: values["lease-duration"],
      renewDeadline: values["renew-deadline"],
      retryPeriod: values["retry-period"],
      metricsListen: values["metrics-listen"],
      serviceUrlTemplate: values["service-url-template"],
    }),
    ...definedProps({ sink: values.sink, data: values.data, clusterName: values["cluster-name"] }),
    kinds: commaList(values.kinds).filter((k) => k !== ""),
    latestState: values["latest-state"] ?? false,
    ...definedProps({ name: values.name }),
    sinkOptions: values["sink-option"] ?? [],
  };
}

/** `-o`'s value; pflag reads `-o=json` as `json`, parseArgs as `=json`. */
function outputOf(value: string | undefined): string {
  return (value ?? "").replace(/^=/, "");
}
