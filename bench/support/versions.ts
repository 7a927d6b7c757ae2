/** The versions of the peers a benchmark measured, for its table's header. */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The installed `@kubernetes/client-node`'s version. */
export function clientNodeVersion(): string {
  const entry = fileURLToPath(import.meta.resolve("@kubernetes/client-node"));
  const pkg = JSON.parse(readFileSync(new URL("../package.json", `file://${entry}`), "utf8")) as { version?: string };
  return pkg.version ?? "unknown";
}
