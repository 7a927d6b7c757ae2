/**
 * Label selectors as the API server reads them (k8s.io/apimachinery/pkg/labels): `a=b`, `a==b`, `a!=b`,
 * `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-joined. A selector the server would reject is rejected
 * here too, so that a local `select()` never quietly means something other than the same selector sent to the server.
 */

/** One requirement of a label selector; `gt` and `lt` carry one integer value. */
export type Requirement =
  | { readonly key: string; readonly op: "in" | "notin" | "gt" | "lt"; readonly values: readonly string[] }
  | { readonly key: string; readonly op: "exists" | "!exists" };

/** A parsed label selector: every requirement must hold. An empty selector matches everything. */
export interface LabelSelector {
  readonly requirements: readonly Requirement[];
}

type TokenKind = "id" | "in" | "notin" | "=" | "==" | "!=" | "!" | ">" | "<" | "(" | ")" | "," | "end";

interface Token {
  readonly kind: TokenKind;
  readonly text: string;
  readonly at: number;
}

// The server's lexer: only these four are whitespace, and these seven characters start an operator.
const isWhitespace = (ch: string): boolean => ch === " " || ch === "\t" || ch === "\r" || ch === "\n";
const isSpecial = (ch: string): boolean => "=!(),><".includes(ch);

function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (;;) {
    while (i < text.length && isWhitespace(text.charAt(i))) i++;
    if (i >= text.length) break;
    const at = i;
    if (isSpecial(text.charAt(i))) {
      const two = text.slice(i, i + 2);
      const op = two === "!=" || two === "==" ? two : text.charAt(i);
      tokens.push({ kind: op as TokenKind, text: op, at });
      i += op.length;
    } else {
      while (i < text.length && !isSpecial(text.charAt(i)) && !isWhitespace(text.charAt(i))) i++;
      const word = text.slice(at, i);
      tokens.push({ kind: word === "in" || word === "notin" ? word : "id", text: word, at });
    }
  }
  tokens.push({ kind: "end", text: "", at: text.length });
  return tokens;
}

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const qualifiedName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const int64 = /^[+-]?[0-9]+$/;
const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;

/** Why `key` is not a label key (`[prefix/]name`, as IsQualifiedName), or undefined when it is one. */
function keyProblem(key: string): string | undefined {
  const parts = key.split("/");
  if (parts.length > 2) return "a label key has at most one '/'";
  const name = parts[parts.length - 1] ?? "";
  if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    if (!prefix) return "the prefix before '/' must not be empty";
    if (prefix.length > 253 || !dns1123Subdomain.test(prefix)) {
      return "the prefix before '/' must be a lower-case DNS subdomain of at most 253 characters";
    }
  }
  if (!name) return "the name must not be empty";
  if (name.length > 63 || !qualifiedName.test(name)) {
    return "the name must be at most 63 characters of [A-Za-z0-9_.-], starting and ending with a letter or digit";
  }
  return undefined;
}

/** A label value as an integer, when it is one that fits in 64 bits (as Go's strconv.ParseInt reads it). */
function parseInt64(value: string): bigint | undefined {
  if (!int64.test(value)) return undefined;
  const n = BigInt(value);
  return n >= int64Min && n <= int64Max ? n : undefined;
}

/**
 * Parses a label selector string; throws a TypeError that names the position of the first problem, for the same
 * inputs the API server rejects.
 */
export function parseLabelSelector(text: string): LabelSelector {
  const tokens = lex(text);
  let i = 0;
  const fail = (what: string, at = tokens[i]?.at ?? text.length): never => {
    throw new TypeError(`invalid label selector ${JSON.stringify(text)}: ${what} at ${at}`);
  };
  const peek = (): Token => tokens[i] ?? { kind: "end", text: "", at: text.length };
  const found = (t: Token): string => (t.kind === "end" ? "the end" : JSON.stringify(t.text));
  // Where a key or value is expected, the words `in` and `notin` are plain words.
  const isWord = (t: Token): boolean => t.kind === "id" || t.kind === "in" || t.kind === "notin";

  const key = (): string => {
    const t = peek();
    if (!isWord(t)) return fail(`expected a key, found ${found(t)}`);
    const problem = keyProblem(t.text);
    if (problem) fail(`invalid key ${JSON.stringify(t.text)}: ${problem}`);
    i++;
    return t.text;
  };
  const checkValue = (value: string, at: number): string => {
    if (value.length > 63 || !labelValue.test(value)) {
      fail(
        `invalid value ${JSON.stringify(value)}: a label value is empty or at most 63 characters of [A-Za-z0-9_.-], starting and ending with a letter or digit`,
        at,
      );
    }
    return value;
  };
  const exactValue = (): string => {
    const t = peek();
    if (t.kind === "end" || t.kind === ",") return "";
    if (!isWord(t)) return fail(`expected a value, found ${found(t)}`);
    i++;
    return checkValue(t.text, t.at);
  };
  const valueSet = (): string[] => {
    if (peek().kind !== "(") fail(`expected "(", found ${found(peek())}`);
    i++;
    const values = new Set<string>();
    // An empty slot, as in `()`, `(,a)`, `(a,)` and `(a,,b)`, is the empty value.
    let expectValue = true;
    for (;;) {
      const t = peek();
      if (t.kind === ")") {
        if (expectValue) values.add("");
        i++;
        return [...values].sort();
      }
      if (t.kind === ",") {
        if (expectValue) values.add("");
        expectValue = true;
        i++;
      } else if (isWord(t) && expectValue) {
        values.add(checkValue(t.text, t.at));
        expectValue = false;
        i++;
      } else fail(`expected ${expectValue ? "a value, " : ""}"," or ")", found ${found(t)}`);
    }
  };
  const requirement = (): Requirement => {
    if (peek().kind === "!") {
      i++;
      return { key: key(), op: "!exists" };
    }
    const k = key();
    const op = peek();
    if (op.kind === "end" || op.kind === ",") return { key: k, op: "exists" };
    i++;
    switch (op.kind) {
      case "=":
      case "==":
        return { key: k, op: "in", values: [exactValue()] };
      case "!=":
        return { key: k, op: "notin", values: [exactValue()] };
      case "in":
      case "notin":
        return { key: k, op: op.kind, values: valueSet() };
      case ">":
      case "<": {
        const t = peek();
        const value = exactValue();
        if (parseInt64(value) === undefined) fail(`${op.text} needs an integer, found ${found(t)}`, t.at);
        return { key: k, op: op.kind === ">" ? "gt" : "lt", values: [value] };
      }
      default:
        return fail(`expected one of =, ==, !=, in, notin, >, <, found ${found(op)}`, op.at);
    }
  };

  const requirements: Requirement[] = [];
  if (peek().kind === "end") return { requirements };
  for (;;) {
    requirements.push(requirement());
    const t = peek();
    if (t.kind === "end") return { requirements };
    if (t.kind !== ",") fail(`expected "," or the end, found ${found(t)}`);
    i++;
  }
}

/** Whether `labels` satisfy `selector`, with the server's semantics (`!=` and `notin` also match a missing label). */
export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const r of selector.requirements) {
    const value = labels !== undefined && Object.hasOwn(labels, r.key) ? labels[r.key] : undefined;
    switch (r.op) {
      case "exists":
        if (value === undefined) return false;
        break;
      case "!exists":
        if (value !== undefined) return false;
        break;
      case "in":
        if (value === undefined || !r.values.includes(value)) return false;
        break;
      case "notin":
        if (value !== undefined && r.values.includes(value)) return false;
        break;
      case "gt":
      case "lt": {
        const have = value === undefined ? undefined : parseInt64(value);
        const want = parseInt64(r.values[0] ?? "");
        if (have === undefined || want === undefined) return false;
        if (r.op === "gt" ? have <= want : have >= want) return false;
        break;
      }
    }
  }
  return true;
}
