/**
 * A real exec credential plugin for tests: a Node script, run through `process.execPath`, that prints the answers a
 * test scripts for it and records each call (with the `KUBERNETES_EXEC_INFO` it was given) as a file.
 */
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One scripted answer: what to print, how to exit, how long to take. */
export interface PluginAnswer {
  /** Printed to stdout: an object as JSON, a string as it is. */
  readonly stdout?: unknown;
  readonly stderr?: string;
  readonly exitCode?: number;
  readonly delayMs?: number;
}

/** What one call of the plugin saw. */
export interface PluginCall {
  readonly execInfo: unknown;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A plugin installed in a temporary folder. */
export interface TestPlugin {
  /** The plugin's folder; remove it when done. */
  readonly dir: string;
  /** `exec.command`: the Node binary running the tests. */
  readonly command: string;
  /** `exec.args`: the script and its state folder. */
  readonly args: readonly string[];
  /** Sets the answers: call N gets answer N, calls past the end get the last. */
  answer(answers: readonly PluginAnswer[]): Promise<void>;
  /** The calls so far, in order. */
  calls(): Promise<PluginCall[]>;
}

// CommonJS, so that the script runs the same whatever the nearest package.json says.
const script = `
const fs = require("node:fs");
const path = require("node:path");
const dir = process.argv[2];
let n = 0;
for (;; n++) {
  try { fs.closeSync(fs.openSync(path.join(dir, "call-" + String(n).padStart(4, "0") + ".json"), "wx")); break; }
  catch (e) { if (e.code !== "EEXIST") throw e; }
}
const record = { execInfo: JSON.parse(process.env.KUBERNETES_EXEC_INFO || "null"), env: { PLUGIN_TEST: process.env.PLUGIN_TEST } };
fs.writeFileSync(path.join(dir, "call-" + String(n).padStart(4, "0") + ".json"), JSON.stringify(record));
const answers = JSON.parse(fs.readFileSync(path.join(dir, "answers.json"), "utf8"));
const a = answers[Math.min(n, answers.length - 1)] || {};
setTimeout(() => {
  if (a.stderr) process.stderr.write(a.stderr);
  if (a.stdout !== undefined) process.stdout.write(typeof a.stdout === "string" ? a.stdout : JSON.stringify(a.stdout));
  process.exitCode = a.exitCode || 0;
}, a.delayMs || 0);
`;

/** Writes a plugin script into a new temporary folder. */
export async function testPlugin(answers: readonly PluginAnswer[] = []): Promise<TestPlugin> {
  const dir = await mkdtemp(join(tmpdir(), "kindwatch-plugin-"));
  const file = join(dir, "plugin.cjs");
  await writeFile(file, script);
  const answer = (list: readonly PluginAnswer[]) => writeFile(join(dir, "answers.json"), JSON.stringify(list));
  await answer(answers);
  return {
    dir,
    command: process.execPath,
    args: [file, dir],
    answer,
    async calls() {
      const names = (await readdir(dir)).filter((f) => f.startsWith("call-")).sort();
      // A call whose file exists but is still empty is running: it counts, with nothing recorded yet.
      return Promise.all(
        names.map(async (f) => {
          const text = await readFile(join(dir, f), "utf8");
          return text ? (JSON.parse(text) as PluginCall) : { execInfo: undefined, env: {} };
        }),
      );
    },
  };
}

/** An ExecCredential as a plugin prints it. */
export function execCredential(
  status: {
    token?: string | undefined;
    clientCertificateData?: string | undefined;
    clientKeyData?: string | undefined;
    expirationTimestamp?: string | undefined;
  },
  apiVersion = "client.authentication.k8s.io/v1",
): unknown {
  return { apiVersion, kind: "ExecCredential", status };
}
