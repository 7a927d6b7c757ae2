/**
 * The Prometheus text exposition format (version 0.0.4), parsed strictly enough that a malformed scrape fails the
 * test: `# HELP` and `# TYPE` lines, and samples `name{label="value",...} value [timestamp]` with escaped label values.
 */

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A parsed scrape. */
export interface Scrape {
  /** `# TYPE` of each metric family. */
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
  /** The samples named `name` whose labels include every one of `labels`. */
  find(name: string, labels?: Readonly<Record<string, string>>): Sample[];
  /** The value of the one sample `find` gives; throws if there is none or more than one. */
  value(name: string, labels?: Readonly<Record<string, string>>): number;
  /** The sum of the values `find` gives (0 if none). */
  sum(name: string, labels?: Readonly<Record<string, string>>): number;
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  if (text === "NaN") return Number.NaN;
  const value = Number(text);
  if (text === "" || Number.isNaN(value)) throw new Error(`not a sample value: ${JSON.stringify(line)}`);
  return value;
}

/** The labels of `rest`, which starts after the `{`; returns them and what follows the `}`. */
function parseLabels(rest: string, line: string): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let at = 0;
  for (;;) {
    if (rest[at] === "}") return [labels, rest.slice(at + 1)];
    const name = labelName.exec(rest.slice(at))?.[0];
    if (!name || rest[at + name.length] !== "=" || rest[at + name.length + 1] !== '"') {
      throw new Error(`malformed labels: ${JSON.stringify(line)}`);
    }
    at += name.length + 2;
    let value = "";
    for (;;) {
      const c = rest[at];
      if (c === undefined) throw new Error(`unterminated label value: ${JSON.stringify(line)}`);
      at++;
      if (c === '"') break;
      if (c !== "\\") {
        value += c;
        continue;
      }
      const escaped = rest[at++];
      if (escaped === "n") value += "\n";
      else if (escaped === "\\" || escaped === '"') value += escaped;
      else throw new Error(`bad escape in a label value: ${JSON.stringify(line)}`);
    }
    if (name in labels) throw new Error(`label ${name} given twice: ${JSON.stringify(line)}`);
    labels[name] = value;
    if (rest[at] === ",") at++;
    else if (rest[at] !== "}") throw new Error(`malformed labels: ${JSON.stringify(line)}`);
  }
}

/** Parses a scrape; throws on any line that is not a comment, a blank or a well-formed sample. */
export function parsePrometheusText(text: string): Scrape {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (type) types.set(type[1] as string, type[2] as string);
      else if (!line.startsWith("# HELP ")) throw new Error(`unknown comment line: ${JSON.stringify(line)}`);
      continue;
    }
    const name = metricName.exec(line)?.[0];
    if (!name) throw new Error(`no metric name: ${JSON.stringify(line)}`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith("{")) [labels, rest] = parseLabels(rest.slice(1), line);
    const fields = rest.trim().split(/\s+/);
    if (!rest.startsWith(" ") || fields.length < 1 || fields.length > 2) {
      throw new Error(`malformed sample: ${JSON.stringify(line)}`);
    }
    samples.push({ name, labels, value: parseValue(fields[0] as string, line) });
  }
  const find = (name: string, labels: Readonly<Record<string, string>> = {}) =>
    samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return {
    types,
    samples,
    find,
    value: (name, labels = {}) => {
      const found = find(name, labels);
      if (found.length !== 1) {
        throw new Error(`${found.length} samples of ${name} with ${JSON.stringify(labels)}, not one`);
      }
      return (found[0] as Sample).value;
    },
    sum: (name, labels = {}) => find(name, labels).reduce((total, s) => total + s.value, 0),
  };
}
