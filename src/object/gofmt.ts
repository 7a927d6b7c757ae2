/**
 * Values printed as kubectl (a Go program) prints them: `fmt.Sprint` (custom columns), `json.Marshal` (JSONPath's maps
 * and lists) and Go's `%v` of a float. Numbers come from JSON: a whole number is Go's int64, any other a float64.
 */

/** A float literal of a JSONPath template (`1.0`): Go keeps it a float even when it is whole, JSON numbers cannot. */
export class GoFloat {
  readonly value: number;

  constructor(value: number) {
    this.value = value;
  }
}

/** Whether `n`, a number from JSON, is what Go decodes as an int64 (a whole number in int64's range). */
export function isGoInt(n: number): boolean {
  return Number.isInteger(n) && Math.abs(n) < 2 ** 63;
}

/** A float64 as Go's `%v` prints it: shortest digits, exponent form below 1e-4 and from 1e6 up (`1e-05`, `1.5e+06`). */
export function goFloat(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (!Number.isFinite(n)) return n > 0 ? "+Inf" : "-Inf";
  if (n === 0) return Object.is(n, -0) ? "-0" : "0";
  const [mantissa = "", exp = "0"] = n.toExponential().split("e");
  const exponent = Number(exp);
  // strconv's 'g' with the shortest precision decides as if the precision were 6.
  if (exponent < -4 || exponent >= 6) {
    const digits = String(Math.abs(exponent)).padStart(2, "0");
    return `${mantissa}e${exponent < 0 ? "-" : "+"}${digits}`;
  }
  return String(n);
}

/** A number from JSON as Go prints it: an int64 in decimal, a float64 with {@link goFloat}. */
export function goNumber(n: number): string {
  return isGoInt(n) ? BigInt(n).toString() : goFloat(n);
}

function isMapValue(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof GoFloat);
}

/** Go's string order: bytewise on UTF-8, which differs from JavaScript's UTF-16 order for characters past U+FFFF. */
export function goStringCompare(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function sortedEntries(map: Record<string, unknown>): [string, unknown][] {
  return Object.entries(map).sort(([a], [b]) => goStringCompare(a, b));
}

/** `value` as Go's `fmt.Sprint` prints it: `map[a:1 b:[x y]]`, `<nil>`, strings unquoted. */
export function goSprint(value: unknown): string {
  if (value === null || value === undefined) return "<nil>";
  if (value instanceof GoFloat) return goFloat(value.value);
  if (typeof value === "string") return value;
  if (typeof value === "number") return goNumber(value);
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(goSprint).join(" ")}]`;
  if (isMapValue(value))
    return `map[${sortedEntries(value)
      .map(([k, v]) => `${k}:${goSprint(v)}`)
      .join(" ")}]`;
  return String(value);
}

const htmlEscapes: Readonly<Record<string, string>> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

function sortedDeep(value: unknown): unknown {
  if (value instanceof GoFloat) return value.value;
  if (Array.isArray(value)) return value.map(sortedDeep);
  if (isMapValue(value)) return Object.fromEntries(sortedEntries(value).map(([k, v]) => [k, sortedDeep(v)]));
  return value;
}

/**
 * `value` as Go's `json.Marshal` writes it: compact, keys sorted, and `<`, `>`, `&`, U+2028 and U+2029 escaped.
 * JavaScript writes numbers as Go does (the same switch to exponent form below 1e-6 and from 1e21 up).
 */
export function goJson(value: unknown): string {
  // These characters can only occur inside strings, where escaping them keeps the same text.
  return JSON.stringify(sortedDeep(value)).replace(/[<>&\u2028\u2029]/g, (c) => htmlEscapes[c] ?? c);
}
