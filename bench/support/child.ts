/**
 * Runs one measurement in a child process of its own, so that what it costs (peak RSS above all) is its own and not
 * the harness's or another implementation's.
 */
import { spawn } from "node:child_process";

/**
 * Runs `node ...nodeArgs script ...args`; resolves with the JSON object the child printed as its last stdout line.
 * `nodeArgs` are Node.js's own flags (`--expose-gc`).
 */
export function runChild(
  script: string,
  args: readonly string[],
  timeoutMs: number,
  nodeArgs: readonly string[] = [],
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const what = `${script} ${args.join(" ")}`;
      if (code !== 0) {
        const why = signal === "SIGKILL" ? `was killed after ${timeoutMs} ms` : `exited with ${code ?? signal}`;
        return reject(new Error(`${what} ${why}:\n${stderr.trim()}`));
      }
      const last = stdout.trim().split("\n").at(-1) ?? "";
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${what} printed no JSON result as its last line:\n${stdout}${stderr}`));
      }
    });
  });
}
