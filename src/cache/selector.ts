/** Label selectors as the API server reads them: `a=b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-joined. */

/** One requirement of a label selector. */
export type Requirement =
  | { readonly key: string; readonly op: "in" | "notin"; readonly values: readonly string[] }
  | { readonly key: string; readonly op: "exists" | "!exists" };

/** A parsed label selector: every requirement must hold. An empty selector matches everything. */
export interface LabelSelector {
  readonly requirements: readonly Requirement[];
}

const token = /\s*(!=|==|=|\(|\)|,|!|[^\s!=(),]+)\s*/y;

/** Parses a label selector string; throws a TypeError naming the position of a syntax error. */
export function parseLabelSelector(text: string): LabelSelector {
  const tokens: { value: string; at: number }[] = [];
  token.lastIndex = 0;
  while (token.lastIndex < text.length) {
    const at = token.lastIndex;
    const m = token.exec(text);
    if (!m) throw new TypeError(`invalid label selector ${JSON.stringify(text)} at ${at}`);
    if (m[1] !== undefined) tokens.push({ value: m[1], at });
  }
  let i = 0;
  const fail = (what: string): never => {
    throw new TypeError(`invalid label selector ${JSON.stringify(text)}: ${what} at ${tokens[i]?.at ?? text.length}`);
  };
  const word = (): string => {
    const t = tokens[i];
    if (!t || ["!=", "==", "=", "(", ")", ",", "!"].includes(t.value)) return fail("expected a key or value");
    i++;
    return t.value;
  };
  const requirements: Requirement[] = [];
  while (i < tokens.length) {
    if (tokens[i]?.value === "!") {
      i++;
      requirements.push({ key: word(), op: "!exists" });
    } else {
      const key = word();
      const op = tokens[i]?.value;
      if (op === undefined || op === ",") requirements.push({ key, op: "exists" });
      else if (op === "=" || op === "==" || op === "!=") {
        i++;
        const value =
          tokens[i] && !["(", ")", ",", "!", "=", "==", "!="].includes(tokens[i]?.value ?? "") ? word() : "";
        requirements.push({ key, op: op === "!=" ? "notin" : "in", values: [value] });
      } else if (op === "in" || op === "notin") {
        i++;
        if (tokens[i]?.value !== "(") fail("expected (");
        i++;
        const values: string[] = [];
        while (tokens[i]?.value !== ")") {
          if (i >= tokens.length) fail("expected )");
          values.push(word());
          if (tokens[i]?.value === ",") i++;
        }
        i++;
        requirements.push({ key, op, values });
      } else fail(`unexpected ${JSON.stringify(op)}`);
    }
    if (i < tokens.length) {
      if (tokens[i]?.value !== ",") fail("expected ,");
      i++;
    }
  }
  return { requirements };
}

/** Whether `labels` satisfy `selector`, with the server's semantics (`!=` and `notin` also match a missing label). */
export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const r of selector.requirements) {
    const has = labels !== undefined && Object.hasOwn(labels, r.key);
    const value = has ? labels?.[r.key] : undefined;
    switch (r.op) {
      case "exists":
        if (!has) return false;
        break;
      case "!exists":
        if (has) return false;
        break;
      case "in":
        if (!has || !r.values.includes(value as string)) return false;
        break;
      case "notin":
        if (has && r.values.includes(value as string)) return false;
        break;
    }
  }
  return true;
}
