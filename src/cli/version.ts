/** The version of kindwatch, from its package.json. */
import { readFileSync } from "node:fs";

/** The package version, or "unknown" when the CLI runs without its package.json. */
export function cliVersion(): string {
  try {
    // dist/src/cli/ -> the package root, both in this repository and when installed under node_modules.
    const pkg: unknown = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"));
    const version = (pkg as { version?: unknown }).version;
    return typeof version === "string" ? version : "unknown";
  } catch {
    return "unknown";
  }
}
