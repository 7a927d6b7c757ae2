/**
 * The templated outputs of `kindwatch get`, as kubectl prints them: `-o jsonpath=TEMPLATE` (or `jsonpath-file=FILE`)
 * and `-o custom-columns=HEADER:PATH,...` (or `custom-columns-file=FILE`: a line of headers, a line of paths).
 */
import { readFile } from "node:fs/promises";
import {
  executeJsonPath,
  findResults,
  type JsonPath,
  JsonPathError,
  parseJsonPath,
  relaxedJsonPath,
} from "../object/jsonpath.js";
import type { OutputFormat } from "./args.js";
import { formatColumns } from "./columns.js";
import { CliError } from "./errors.js";
import { columnText, relaxedPathMessage } from "./jsonpath.js";

async function readTemplate(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new CliError(`error reading --template ${file}, ${(err as Error).message}`);
  }
}

/** Prints objects with a JSONPath template; every object is evaluated whole before anything is printed. */
export class JsonPathPrinter {
  readonly #template: string;
  readonly #path: JsonPath;

  constructor(template: string) {
    this.#template = template;
    try {
      this.#path = parseJsonPath(template);
    } catch (err) {
      throw new CliError(`error parsing jsonpath ${template}, ${(err as Error).message}`);
    }
  }

  /** What kubectl prints for `data` (an object, or the List of several). */
  print(data: unknown): string {
    try {
      return executeJsonPath(this.#path, data);
    } catch (err) {
      if (!(err instanceof JsonPathError)) throw err;
      // kubectl goes on to print the whole object; the template is what a person needs to fix it.
      throw new CliError(
        `error executing jsonpath ${JSON.stringify(this.#template)}: Error executing template: ${err.message}. Printing more information for debugging the template:\n\ttemplate was:\n\t\t${this.#template}`,
      );
    }
  }
}

/** One custom column: its header and its path, made relaxed (`.a.b`, `a.b`, `{a.b}` all mean `{.a.b}`). */
interface Column {
  readonly header: string;
  readonly path: string;
}

function relaxed(path: string): string {
  const full = relaxedJsonPath(path);
  if (full === undefined) throw new CliError(relaxedPathMessage);
  return full;
}

function columnsOfSpec(spec: string): Column[] {
  return spec.split(",").map((part) => {
    const colon = part.indexOf(":");
    if (colon < 0) {
      throw new CliError(`unexpected custom-columns spec: ${part}, expected <header>:<json-path-expr>`);
    }
    return { header: part.slice(0, colon), path: relaxed(part.slice(colon + 1)) };
  });
}

function columnsOfFile(text: string): Column[] {
  const [headerLine, specLine] = text.split(/\r?\n/);
  const expected = "Expected format is one line of space separated headers, one line of space separated column specs.";
  if (headerLine === undefined) throw new CliError(`invalid template, missing header line. ${expected}`);
  if (specLine === undefined) throw new CliError(`invalid template, missing spec line. ${expected}`);
  const words = (line: string) => line.split(/\s+/).filter((w) => w !== "");
  const headers = words(headerLine);
  const specs = words(specLine);
  if (headers.length !== specs.length) {
    throw new CliError(`number of headers (${headers.length}) and field specifications (${specs.length}) don't match`);
  }
  return headers.map((header, i) => ({ header, path: relaxed(specs[i] as string) }));
}

/** Prints objects as custom columns: the header once, a row per object, `<none>` where a path finds nothing. */
export class CustomColumnsPrinter {
  readonly #columns: readonly Column[];
  readonly #noHeaders: boolean;
  #paths: JsonPath[] | undefined;
  #headerPrinted = false;
  /** Kept from row to row, as kubectl's tabwriter keeps them while watching. */
  readonly #widths: number[] = [];

  constructor(columns: readonly Column[], noHeaders: boolean) {
    this.#columns = columns;
    this.#noHeaders = noHeaders;
  }

  /**
   * The lines for `objects`, aligned with those printed before. As kubectl does, the header still comes out when a
   * path fails to parse, and the rows before an object the paths fail on: the error is returned with these lines.
   */
  lines(objects: readonly unknown[]): { lines: string[]; error?: CliError } {
    const rows: string[][] = [];
    if (!this.#noHeaders && !this.#headerPrinted) {
      rows.push(this.#columns.map((c) => c.header));
      this.#headerPrinted = true;
    }
    let error: CliError | undefined;
    try {
      this.#paths ??= this.#columns.map((c) => parseJsonPath(c.path));
      for (const object of objects) rows.push(this.#paths.map((path) => cell(findResults(path, object))));
    } catch (err) {
      if (!(err instanceof JsonPathError)) throw err;
      error = new CliError(err.message);
    }
    const lines = rows.length > 0 ? formatColumns(rows, this.#widths) : [];
    return error ? { lines, error } : { lines };
  }
}

function cell(results: unknown[][]): string {
  const values = results.flat();
  return results[0]?.length ? values.map(columnText).join(",") : "<none>";
}

/** The printer for a templated `-o`; reads the file of `jsonpath-file` and `custom-columns-file`. */
export async function templatePrinter(
  output: OutputFormat,
  noHeaders: boolean,
): Promise<JsonPathPrinter | CustomColumnsPrinter> {
  const template = output.template ?? "";
  switch (output.format) {
    case "jsonpath":
      return new JsonPathPrinter(template);
    case "jsonpath-file":
      return new JsonPathPrinter(await readTemplate(template));
    case "custom-columns":
      return new CustomColumnsPrinter(columnsOfSpec(template), noHeaders);
    default:
      return new CustomColumnsPrinter(columnsOfFile(await readTemplate(template)), noHeaders);
  }
}
