/** The API server's `Warning` response headers (RFC 7234 §5.5): deprecations and admission warnings. */

const warning = /^\s*(\d{3}) (\S+) "((?:[^"\\]|\\.)*)"(?: "[^"]*")?\s*(?:,|$)/;

/** The texts of the code-299 warnings in `header` (one value or several), unescaped; malformed parts are skipped. */
export function parseWarnings(header: string | readonly string[] | undefined): string[] {
  const values = header === undefined ? [] : typeof header === "string" ? [header] : header;
  const texts: string[] = [];
  for (const value of values) {
    let rest = value;
    for (let match = warning.exec(rest); match; match = warning.exec(rest)) {
      // 299 is "miscellaneous persistent warning", the only code the API server sends (client-go ignores the rest).
      if (match[1] === "299") texts.push((match[3] ?? "").replace(/\\(.)/g, "$1"));
      rest = rest.slice(match[0].length);
    }
  }
  return texts;
}
