/**
 * Resource quantities (`500m`, `1Gi`, `2e3`) as apimachinery's `resource.ParseQuantity` reads them, to compare them as
 * kubectl's --sort-by does. A value is kept exactly, as a whole number of nano-units, which every quantity is: the
 * parser keeps what it can represent exactly and rounds anything else up to a nano-unit.
 */

const binarySuffixes: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimalSuffixes: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  "": 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};
const suffixLetters = "eEinumkKMGTP";
const maxInt64 = 2n ** 63n - 1n;

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

interface Parts {
  readonly positive: boolean;
  readonly num: string;
  readonly denom: string;
  readonly suffix: string;
}

/** apimachinery's `parseQuantityString`: sign, digits, fraction, suffix; undefined where it fails. */
function split(str: string): Parts | undefined {
  let positive = true;
  let pos = 0;
  const end = str.length;
  if (str[0] === "-" || str[0] === "+") {
    positive = str[0] === "+";
    pos++;
  }
  while (pos < end && str[pos] === "0") pos++;
  if (pos >= end) return { positive, num: "0", denom: "", suffix: "" };
  let i = pos;
  while (i < end && isDigit(str[i])) i++;
  let num = str.slice(pos, i);
  pos = i;
  if (pos >= end) return { positive, num, denom: "", suffix: "" };
  if (num === "") num = "0";
  let denom = "";
  if (str[pos] === ".") {
    pos++;
    i = pos;
    while (i < end && isDigit(str[i])) i++;
    denom = str.slice(pos, i);
    pos = i;
    if (pos >= end) return { positive, num, denom, suffix: "" };
  }
  const suffixStart = pos;
  i = pos;
  while (i < end && suffixLetters.includes(str[i] as string)) i++;
  if (i >= end) return { positive, num, denom, suffix: str.slice(suffixStart) };
  pos = i;
  if (str[pos] === "-" || str[pos] === "+") pos++;
  while (pos < end && isDigit(str[pos])) pos++;
  // Anything after the exponent's digits is not a quantity.
  return pos >= end ? { positive, num, denom, suffix: str.slice(suffixStart) } : undefined;
}

/** The base and exponent a suffix stands for; undefined for an unknown suffix. */
function interpret(suffix: string): { base: 2 | 10; exponent: number } | undefined {
  const binary = binarySuffixes[suffix];
  if (binary !== undefined) return { base: 2, exponent: binary };
  const decimal = decimalSuffixes[suffix];
  if (decimal !== undefined) return { base: 10, exponent: decimal };
  if (suffix.length > 1 && (suffix[0] === "e" || suffix[0] === "E") && /^[+-]?[0-9]+$/.test(suffix.slice(1))) {
    const exponent = BigInt(suffix.slice(1));
    if (exponent < -(2n ** 63n) || exponent > maxInt64) return undefined;
    // Go keeps the exponent as an int32.
    return { base: 10, exponent: Number(BigInt.asIntN(32, exponent)) };
  }
  return undefined;
}

/** `str` as a quantity in nano-units, or undefined when it is not one (apimachinery's `ParseQuantity`). */
export function parseQuantity(str: string): bigint | undefined {
  if (str === "") return undefined;
  const parts = split(str);
  if (!parts) return undefined;
  const meaning = interpret(parts.suffix);
  if (!meaning) return undefined;
  const { num, denom, positive } = parts;
  const digits = BigInt(num + denom);
  // The value is digits × 10^scale × 2^binary.
  const scale = (meaning.base === 10 ? meaning.exponent : 0) - denom.length;
  const binary = meaning.base === 2 ? meaning.exponent : 0;
  // Quantities the parser can hold exactly in an int64 are kept as they are; others are rounded up and capped.
  let precision: number;
  if (meaning.base === 10) precision = 18 - (num.length + denom.length);
  else precision = denom.length === 0 ? 15 - num.length - Math.trunc((meaning.exponent * 3) / 10) - 1 : -1;
  const exact = precision >= 0 && scale >= -9 && digits * 2n ** BigInt(binary) <= maxInt64;
  const numerator = digits * 2n ** BigInt(binary) * 10n ** BigInt(Math.max(0, scale + 9));
  const denominator = 10n ** BigInt(Math.max(0, -(scale + 9)));
  let nanos = (numerator + denominator - 1n) / denominator;
  if (!exact && nanos > maxInt64 * 10n ** 9n) nanos = maxInt64 * 10n ** 9n;
  return positive ? nanos : -nanos;
}
