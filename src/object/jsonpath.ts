/**
 * kubectl's JSONPath: the template dialect of client-go's `util/jsonpath`, not Goessner's JSONPath. Text with actions
 * in braces (`{.items[*].metadata.name}`), `{range ...}{end}` loops, filters (`[?(@.status.phase=="Running")]`),
 * slices, unions, `..` recursive descent, `*`, quoted literals (`{"\n"}`), `@` and `$`. The parser follows client-go's
 * grammar, quirks included (`['a.b']` is the path `.a.b`); evaluation follows its rules: missing keys give nothing, a
 * comparison needs two values of one type (an int is not a float), several results of one action are printed
 * space-separated, maps and lists as compact JSON. Map keys are visited in sorted order where Go's order is random.
 */
import { GoFloat, goFloat, goJson, goNumber, goSprint, goStringCompare, isGoInt } from "./gofmt.js";

/** A template that does not parse, or that fails on the data: the message is client-go's. */
export class JsonPathError extends Error {
  override readonly name: string = "JsonPathError";
}

interface Param {
  known: boolean;
  value: number;
  derived: boolean;
}

type Node =
  | ListNode
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "field"; readonly name: string }
  | { readonly type: "identifier"; readonly name: string }
  | { readonly type: "array"; readonly params: readonly [Param, Param, Param] }
  | { readonly type: "filter"; readonly left: ListNode; readonly right: ListNode; readonly operator: string }
  | { readonly type: "int"; readonly value: number }
  | { readonly type: "float"; readonly value: number }
  | { readonly type: "bool"; readonly value: boolean }
  | { readonly type: "wildcard" }
  | { readonly type: "recursive" }
  | { readonly type: "union"; readonly nodes: readonly ListNode[] };

interface ListNode {
  readonly type: "list";
  readonly nodes: Node[];
}

const eof = -1;

function newList(): ListNode {
  return { type: "list", nodes: [] };
}

function isSpace(r: number): boolean {
  return r === 0x20 || r === 0x09;
}

function isEndOfLine(r: number): boolean {
  return r === 0x0d || r === 0x0a;
}

function isDigit(r: number): boolean {
  return r >= 0 && /\p{Nd}/u.test(String.fromCodePoint(r));
}

function isAlphaNumeric(r: number): boolean {
  return r === 0x5f || (r >= 0 && /[\p{L}\p{Nd}]/u.test(String.fromCodePoint(r)));
}

function isTerminator(r: number): boolean {
  if (isSpace(r) || isEndOfLine(r)) return true;
  return r === eof || ".,[]$@{}".includes(String.fromCodePoint(r));
}

/** Go's `%#U` of a rune: `U+007E '~'`, without the character when it is not printable. */
function runeName(r: number): string {
  const hex = `U+${r.toString(16).toUpperCase().padStart(4, "0")}`;
  const printable = r === 0x20 || /[\p{L}\p{M}\p{N}\p{P}\p{S}]/u.test(String.fromCodePoint(r));
  return printable ? `${hex} '${String.fromCodePoint(r)}'` : hex;
}

/** Go's `strconv.Atoi`: an int64 in decimal, optionally signed. */
function atoi(text: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(text)) return undefined;
  const n = BigInt(text);
  return n >= -(2n ** 63n) && n < 2n ** 63n ? Number(n) : undefined;
}

/** Go's `strconv.ParseFloat` for the texts a number token can hold (sign, digits, dots). */
function parseFloat64(text: string): number | undefined {
  return /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$/.test(text) ? Number(text) : undefined;
}

const simpleEscapes: Readonly<Record<string, string>> = {
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
};

/** client-go's `UnquoteExtend`: Go's `strconv.Unquote`, for single quotes too. */
function unquote(quoted: string): string {
  const syntax = new JsonPathError("invalid syntax");
  const quote = quoted[0];
  if (quoted.length < 2 || quote !== quoted[quoted.length - 1] || (quote !== '"' && quote !== "'")) throw syntax;
  const body = quoted.slice(1, -1);
  let out = "";
  for (let i = 0; i < body.length; ) {
    const c = body[i] as string;
    if (c === quote) throw syntax;
    if (c !== "\\") {
      out += c;
      i++;
      continue;
    }
    const e = body[i + 1];
    if (e === undefined) throw syntax;
    if (e in simpleEscapes) {
      out += simpleEscapes[e];
      i += 2;
    } else if (e === "'" || e === '"') {
      if (e !== quote) throw syntax;
      out += e;
      i += 2;
    } else if (e === "x" || e === "u" || e === "U") {
      const size = e === "x" ? 2 : e === "u" ? 4 : 8;
      const hex = body.slice(i + 2, i + 2 + size);
      if (!new RegExp(`^[0-9a-fA-F]{${size}}$`).test(hex)) throw syntax;
      const code = Number.parseInt(hex, 16);
      if (e === "x") out += String.fromCharCode(code);
      else if (code > 0x10ffff || (code >= 0xd800 && code < 0xe000)) throw syntax;
      else out += String.fromCodePoint(code);
      i += 2 + size;
    } else if (e >= "0" && e <= "7") {
      const oct = body.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct) || Number.parseInt(oct, 8) > 255) throw syntax;
      out += String.fromCharCode(Number.parseInt(oct, 8));
      i += 4;
    } else {
      throw syntax;
    }
  }
  return out;
}

/** A port of client-go's parser (`util/jsonpath/parser.go`), state for state. */
class Parser {
  readonly root = newList();
  readonly #input: string;
  #pos = 0;
  #start = 0;
  #width = 0;

  constructor(input: string) {
    this.#input = input;
  }

  parse(): ListNode {
    this.#parseText();
    return this.root;
  }

  #consumeText(): string {
    const value = this.#input.slice(this.#start, this.#pos);
    this.#start = this.#pos;
    return value;
  }

  #next(): number {
    if (this.#pos >= this.#input.length) {
      this.#width = 0;
      return eof;
    }
    const r = this.#input.codePointAt(this.#pos) as number;
    this.#width = r > 0xffff ? 2 : 1;
    this.#pos += this.#width;
    return r;
  }

  #peek(): number {
    const r = this.#next();
    this.#backup();
    return r;
  }

  #backup(): void {
    this.#pos -= this.#width;
  }

  #rest(): string {
    return this.#input.slice(this.#pos);
  }

  #parseText(): void {
    for (;;) {
      if (this.#rest().startsWith("{")) {
        if (this.#pos > this.#start) this.root.nodes.push({ type: "text", text: this.#consumeText() });
        this.#pos += 1;
        this.#consumeText();
        const action = newList();
        this.root.nodes.push(action);
        this.#parseInsideAction(action);
        continue;
      }
      if (this.#next() === eof) break;
    }
    if (this.#pos > this.#start) this.root.nodes.push({ type: "text", text: this.#consumeText() });
  }

  /** Reads one action up to its closing brace. */
  #parseInsideAction(cur: ListNode): void {
    for (;;) {
      const rest = this.#rest();
      if (rest.startsWith("}")) {
        this.#pos += 1;
        this.#consumeText();
        return;
      }
      if (rest.startsWith("[?(")) {
        this.#parseFilter(cur);
        continue;
      }
      if (rest.startsWith("..")) {
        this.#parseRecursive(cur);
        continue;
      }
      const r = this.#next();
      if (r === eof || isEndOfLine(r)) throw new JsonPathError("unclosed action");
      if (r === 0x20 || r === 0x40 || r === 0x24) {
        // A space, `@` (the current object) or `$` (the root, which is the current object at the top).
        this.#consumeText();
      } else if (r === 0x5b) {
        this.#parseArray(cur);
      } else if (r === 0x22 || r === 0x27) {
        this.#parseQuote(cur, r);
      } else if (r === 0x2e) {
        this.#parseField(cur);
      } else if (r === 0x2b || r === 0x2d || isDigit(r)) {
        this.#backup();
        this.#parseNumber(cur);
      } else if (isAlphaNumeric(r)) {
        this.#backup();
        this.#parseIdentifier(cur);
      } else {
        throw new JsonPathError(`unrecognized character in action: ${runeName(r)}`);
      }
    }
  }

  #parseIdentifier(cur: ListNode): void {
    for (;;) {
      if (isTerminator(this.#next())) {
        this.#backup();
        break;
      }
    }
    const value = this.#consumeText();
    cur.nodes.push(
      value === "true" || value === "false"
        ? { type: "bool", value: value === "true" }
        : { type: "identifier", name: value },
    );
  }

  #parseRecursive(cur: ListNode): void {
    if (cur.nodes[cur.nodes.length - 1]?.type === "recursive") {
      throw new JsonPathError("invalid multiple recursive descent");
    }
    this.#pos += 2;
    this.#consumeText();
    cur.nodes.push({ type: "recursive" });
    if (isAlphaNumeric(this.#peek())) this.#parseField(cur);
  }

  #parseNumber(cur: ListNode): void {
    const sign = this.#peek();
    if (sign === 0x2b || sign === 0x2d) this.#next();
    for (;;) {
      const r = this.#next();
      if (r !== 0x2e && !isDigit(r)) {
        this.#backup();
        break;
      }
    }
    const value = this.#consumeText();
    const int = atoi(value);
    if (int !== undefined) {
      cur.nodes.push({ type: "int", value: int });
      return;
    }
    const float = parseFloat64(value);
    if (float === undefined) throw new JsonPathError(`cannot parse number ${value}`);
    cur.nodes.push({ type: "float", value: float });
  }

  #parseArray(cur: ListNode): void {
    for (;;) {
      const r = this.#next();
      if (r === eof || r === 0x0a) throw new JsonPathError("unterminated array");
      if (r === 0x5d) break;
    }
    let text = this.#consumeText().slice(1, -1);
    if (text === "*") text = ":";
    const parts = text.split(",");
    if (parts.length > 1) {
      cur.nodes.push({ type: "union", nodes: parts.map((part) => parseAction(`[${part.replace(/^ +| +$/g, "")}]`)) });
      return;
    }
    const dictKey = /^'([^']*)'$/.exec(text);
    if (dictKey) {
      cur.nodes.push(...parseAction(`.${dictKey[1]}`).nodes);
      return;
    }
    const slice = /^(-?[0-9]*)(:-?[0-9]*)?(:-?[0-9]*)?$/.exec(text);
    if (!slice) throw new JsonPathError(`invalid array index ${text}`);
    const params: [Param, Param, Param] = [
      { known: false, value: 0, derived: false },
      { known: false, value: 0, derived: false },
      { known: false, value: 0, derived: false },
    ];
    for (let i = 0; i < 3; i++) {
      const param = params[i] as Param;
      let part = slice[i + 1] ?? "";
      if (part !== "") {
        if (i > 0) part = part.slice(1);
        if (i === 0 || part !== "") {
          const n = atoi(part);
          if (n === undefined) throw new JsonPathError(`array index ${part} is not a number`);
          param.known = true;
          param.value = n;
        }
      } else if (i === 1) {
        // `[n]` is the slice `[n:n+1]`.
        param.known = true;
        param.value = params[0].value + 1;
        param.derived = true;
      }
    }
    cur.nodes.push({ type: "array", params });
  }

  #parseFilter(cur: ListNode): void {
    this.#pos += 3;
    this.#consumeText();
    let begin = false;
    let end = false;
    let pair = 0;
    for (;;) {
      const r = this.#next();
      if (r === eof || r === 0x0a) throw new JsonPathError("unterminated filter");
      if (r === 0x22 || r === 0x27) {
        if (!begin) {
          begin = true;
          pair = r;
          continue;
        }
        if (this.#input[this.#pos - 2] !== "\\" && r === pair) end = true;
      } else if (r === 0x29 && begin === end) {
        break;
      }
    }
    if (this.#next() !== 0x5d) throw new JsonPathError("unclosed array expect ]");
    const text = this.#consumeText().slice(0, -2);
    const parts = /^([^!<>=]+)([!<>=]+)([^\n]+?)$/.exec(text);
    if (!parts) {
      cur.nodes.push({ type: "filter", left: parseAction(text), right: newList(), operator: "exists" });
      return;
    }
    cur.nodes.push({
      type: "filter",
      left: parseAction(parts[1] as string),
      right: parseAction(parts[3] as string),
      operator: parts[2] as string,
    });
  }

  #parseQuote(cur: ListNode, end: number): void {
    for (;;) {
      const r = this.#next();
      if (r === eof || r === 0x0a) throw new JsonPathError("unterminated quoted string");
      if (r === end && this.#input[this.#pos - 2] !== "\\") break;
    }
    const value = this.#consumeText();
    try {
      cur.nodes.push({ type: "text", text: unquote(value) });
    } catch (err) {
      throw new JsonPathError(`unquote string ${value} error ${(err as Error).message}`);
    }
  }

  #parseField(cur: ListNode): void {
    this.#consumeText();
    while (this.#advance()) {}
    const value = this.#consumeText();
    cur.nodes.push(value === "*" ? { type: "wildcard" } : { type: "field", name: value.replaceAll("\\", "") });
  }

  /** Steps over one character of a field name; a backslash makes the next one part of the name. */
  #advance(): boolean {
    const r = this.#next();
    if (r === 0x5c) {
      this.#next();
    } else if (isTerminator(r)) {
      this.#backup();
      return false;
    }
    return true;
  }
}

/** The action `{text}` parsed alone (unions, quoted keys and filter sides are parsed so). */
function parseAction(text: string): ListNode {
  const node = new Parser(`{${text}}`).parse().nodes[0];
  return node?.type === "list" ? node : newList();
}

/** A template's top level: text, actions, and `{range}` ... `{end}` loops around their bodies. */
type Item =
  | { readonly type: "node"; readonly node: Node }
  | { readonly type: "range"; readonly over: ListNode; readonly body: Item[]; closed: boolean }
  | { readonly type: "end" };

function hasIdentifier(node: Node, name: string): boolean {
  return node.type === "list" && node.nodes.some((n) => n.type === "identifier" && n.name === name);
}

/**
 * Nests each range's body up to its `{end}` (or the template's end); an `{end}` outside any range stays, to fail when
 * it is reached, as in client-go.
 */
function structure(nodes: readonly Node[]): Item[] {
  const top: Item[] = [];
  const open: Item[][] = [top];
  const ranges: Extract<Item, { type: "range" }>[] = [];
  for (const node of nodes) {
    const body = open[open.length - 1] as Item[];
    if (hasIdentifier(node, "range") && node.type === "list") {
      const over: ListNode = {
        type: "list",
        nodes: node.nodes.filter((n) => n.type !== "identifier" || n.name !== "range"),
      };
      const range = { type: "range" as const, over, body: [], closed: false };
      body.push(range);
      ranges.push(range);
      open.push(range.body);
    } else if (hasIdentifier(node, "end")) {
      const range = ranges.pop();
      if (range) {
        range.closed = true;
        open.pop();
      } else {
        body.push({ type: "end" });
      }
    } else {
      body.push({ type: "node", node });
    }
  }
  return top;
}

/** A parsed kubectl JSONPath template, ready to run on any number of objects. */
export interface JsonPath {
  /** The template as written. */
  readonly source: string;
}

/** The structure of each parsed template; one built by hand (only a `source`) is parsed on first use. */
const parsed = new WeakMap<JsonPath, readonly Item[]>();

/** Parses a kubectl JSONPath template (`{.items[*].metadata.name}`); throws a {@link JsonPathError} with client-go's message. */
export function parseJsonPath(template: string): JsonPath {
  const path: JsonPath = Object.freeze({ source: template });
  parsed.set(path, structure(new Parser(template).parse().nodes));
  return path;
}

function itemsOf(path: JsonPath): readonly Item[] {
  const known = parsed.get(path);
  if (known) return known;
  const items = structure(new Parser(path.source).parse().nodes);
  parsed.set(path, items);
  return items;
}

/**
 * The current value of a range over a null item: Go's invalid `reflect.Value`, which prints as `<no value>` and has
 * no fields, unlike a null reached through a field (`null`).
 */
export const noValue: unique symbol = Symbol("no value");

type Value = unknown;

function isMap(value: Value): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof GoFloat);
}

/** Go's name of the type of a value from JSON, as errors print it. */
function goType(value: Value): string {
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return isGoInt(value) ? "int64" : "float64";
  if (value instanceof GoFloat) return "float64";
  if (isMap(value)) return "map[string]interface {}";
  return "interface {}";
}

function children(value: Value): Value[] {
  if (isMap(value))
    return Object.keys(value)
      .sort(goStringCompare)
      .map((k) => value[k]);
  if (Array.isArray(value)) return value;
  // Go indexes a string by byte.
  if (typeof value === "string") return [...Buffer.from(value, "utf8")];
  return [];
}

type Kind = "bool" | "int" | "float" | "string";

function basicKind(value: Value): Kind {
  if (typeof value === "boolean") return "bool";
  if (typeof value === "string") return "string";
  if (value instanceof GoFloat) return "float";
  if (typeof value === "number") return isGoInt(value) ? "int" : "float";
  throw new JsonPathError("invalid type for comparison");
}

function numberOf(value: Value): number {
  return value instanceof GoFloat ? value.value : (value as number);
}

/** Go template's `eq` on two values. */
function equal(a: Value, b: Value): boolean {
  const ka = basicKind(a);
  if (ka !== basicKind(b)) throw new JsonPathError("incompatible types for comparison");
  if (ka === "int" || ka === "float") return numberOf(a) === numberOf(b);
  return a === b;
}

/** Go template's `lt` on two values. */
function less(a: Value, b: Value): boolean {
  const ka = basicKind(a);
  if (ka !== basicKind(b)) throw new JsonPathError("incompatible types for comparison");
  if (ka === "bool") throw new JsonPathError("invalid type for comparison");
  if (ka === "string") return goStringCompare(a as string, b as string) < 0;
  return numberOf(a) < numberOf(b);
}

function compare(operator: string, a: Value, b: Value): boolean {
  switch (operator) {
    case "<":
      return less(a, b);
    case ">":
      return !(less(a, b) || equal(a, b));
    case "==":
      return equal(a, b);
    case "!=":
      return !equal(a, b);
    case "<=":
      return less(a, b) || equal(a, b);
    case ">=":
      return !less(a, b);
    default:
      throw new JsonPathError(`unrecognized filter operator ${operator}`);
  }
}

function evalArray(input: readonly Value[], params: readonly [Param, Param, Param]): Value[] {
  const result: Value[] = [];
  for (const value of input) {
    if (value === null || value === noValue) continue;
    if (!Array.isArray(value)) throw new JsonPathError(`${goType(value)} is not array or slice`);
    const [start, end, step] = params.map((p) => ({ ...p }));
    const first = start as Param;
    const last = end as Param;
    const length = value.length;
    if (!first.known) first.value = 0;
    if (first.value < 0) first.value += length;
    if (!last.known) last.value = length;
    if (last.value < 0 || (last.value === 0 && last.derived)) last.value += length;
    // An empty selection ends the whole evaluation of this step, as client-go returns at once.
    if (last.value === first.value) return result;
    if (first.value >= length || first.value < 0) {
      throw new JsonPathError(`array index out of bounds: index ${first.value}, length ${length}`);
    }
    if (last.value > length || last.value < 0) {
      throw new JsonPathError(`array index out of bounds: index ${last.value - 1}, length ${length}`);
    }
    if (first.value > last.value) {
      throw new JsonPathError(`starting index ${first.value} is greater than ending index ${last.value}`);
    }
    let stride = 1;
    if (step?.known) {
      if (step.value <= 0) throw new JsonPathError("step must be > 0");
      stride = step.value;
    }
    const slice = value.slice(first.value, last.value);
    for (let i = 0; i < slice.length; i += stride) result.push(slice[i]);
  }
  return result;
}

function evalRecursive(input: readonly Value[]): Value[] {
  const result: Value[] = [];
  for (const value of input) {
    if (value === null || value === noValue) continue;
    const inner = children(value);
    if (inner.length === 0) continue;
    result.push(value, ...evalRecursive(inner));
  }
  return result;
}

function evalFilter(input: readonly Value[], node: Extract<Node, { type: "filter" }>): Value[] {
  const results: Value[] = [];
  for (const value of input) {
    if (!Array.isArray(value)) {
      const shown = value === noValue ? "<invalid reflect.Value>" : goSprint(value);
      throw new JsonPathError(`${shown} is not array or slice and cannot be filtered`);
    }
    for (const item of value) {
      let lefts: Value[];
      try {
        lefts = evalList([item], node.left);
      } catch (err) {
        // client-go hands back the failing step's input with the error, so for an existence test the item passes.
        if (node.operator === "exists") {
          results.push(item);
          continue;
        }
        throw err;
      }
      if (node.operator === "exists") {
        if (lefts.length > 0) results.push(item);
        continue;
      }
      if (lefts.length === 0) continue;
      if (lefts.length > 1) throw new JsonPathError("can only compare one element at a time");
      const rights = evalList([item], node.right);
      if (rights.length === 0) continue;
      if (rights.length > 1) throw new JsonPathError("can only compare one element at a time");
      if (compare(node.operator, lefts[0], rights[0])) results.push(item);
    }
  }
  return results;
}

function walk(input: readonly Value[], node: Node): Value[] {
  switch (node.type) {
    case "list":
      return evalList(input, node);
    case "text":
      return [node.text];
    case "field": {
      const results: Value[] = [];
      for (const value of input) {
        if (isMap(value) && Object.hasOwn(value, node.name)) results.push(value[node.name]);
      }
      return results;
    }
    case "array":
      return evalArray(input, node.params);
    case "filter":
      return evalFilter(input, node);
    case "int":
    case "bool":
      return input.map(() => node.value);
    case "float":
      return input.map(() => new GoFloat(node.value));
    case "wildcard":
      return input.flatMap((value) => (value === null || value === noValue ? [] : children(value)));
    case "recursive":
      return evalRecursive(input);
    case "union":
      return node.nodes.flatMap((list) => evalList(input, list));
    case "identifier":
      throw new JsonPathError(`unrecognized identifier ${node.name}`);
  }
}

function evalList(input: readonly Value[], node: ListNode): Value[] {
  let current: Value[] = [...input];
  for (const n of node.nodes) current = walk(current, n);
  return current;
}

function findIn(items: readonly Item[], data: Value, out: Value[][]): void {
  for (const item of items) {
    if (item.type === "end") throw new JsonPathError("not in range, nothing to end");
    if (item.type === "node") {
      out.push(walk([data], item.node));
      continue;
    }
    const values = evalList([data], item.over);
    for (const value of values) findIn(item.body, value === null ? noValue : value, out);
    // client-go still walks the body of a loop over nothing (its errors count, its results do not)...
    if (values.length === 0) findIn(item.body, noValue, []);
    // ...and, finding no {end}, goes on with the body's actions once more on the current object.
    if (!item.closed) findIn(item.body, data, out);
  }
}

/** The results of each action of `path` on `data`, in order (client-go's `FindResults`). */
export function findResults(path: JsonPath, data: unknown): unknown[][] {
  const out: Value[][] = [];
  findIn(itemsOf(path), data, out);
  return out;
}

/** One result as the JSONPath printer writes it: maps and lists as JSON, anything else as Go prints it. */
function resultText(value: Value): string {
  if (value === noValue) return "<no value>";
  if (value === null) return "null";
  if (value instanceof GoFloat) return goFloat(value.value);
  if (typeof value === "number") return goNumber(value);
  if (typeof value === "object") return goJson(value);
  return String(value);
}

/**
 * Every value `template` selects in `data`, the results of all its actions in order. Missing fields select nothing; a
 * template that does not parse, or that fails on the data (an index out of range, a filter over a map), throws a
 * {@link JsonPathError}.
 *
 * @example
 * ```ts
 * jsonPath(pod, '{.status.conditions[?(@.type=="Ready")].status}'); // ["True"]
 * ```
 */
export function jsonPath(data: unknown, template: string | JsonPath): unknown[] {
  const path = typeof template === "string" ? parseJsonPath(template) : template;
  return findResults(path, data)
    .flat()
    .map((value) => (value === noValue ? null : value));
}

/** What `kubectl get -o jsonpath=TEMPLATE` prints for `data`; evaluates everything before returning any text. */
export function executeJsonPath(path: JsonPath, data: unknown): string {
  return findResults(path, data)
    .map((results) => results.map(resultText).join(" "))
    .join("");
}

const relaxed = /^\{\.?([^{}]+)\}$|^\.?([^{}]+)$/;

/**
 * kubectl's relaxed field path (custom columns, --sort-by): `metadata.name`, `.metadata.name`, `{metadata.name}` and
 * `{.metadata.name}` all become `{.metadata.name}`; undefined when `expression` is none of these.
 */
export function relaxedJsonPath(expression: string): string | undefined {
  if (expression === "") return expression;
  const match = relaxed.exec(expression);
  if (!match) return undefined;
  return `{.${match[1] || match[2]}}`;
}
