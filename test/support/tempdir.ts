/** Scratch directories that live as long as the test process. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dirs = new Map<string, string>();

/** One directory per `prefix` for this process, made on first use and removed when the process exits. */
export function processTempDir(prefix: string): string {
  let dir = dirs.get(prefix);
  if (!dir) {
    const made = mkdtempSync(join(tmpdir(), `${prefix}-`));
    process.on("exit", () => rmSync(made, { recursive: true, force: true }));
    dirs.set(prefix, made);
    dir = made;
  }
  return dir;
}
