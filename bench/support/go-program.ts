/**
 * The benchmark's Go programs (bench/client-go: client-go's informer, watch-all and workqueue, and the churn generator;
 * bench/controller-runtime: a no-op controller-runtime controller, a module of its own since controller-runtime pins
 * its own k8s.io/* versions), built on first use into the same cache folder as the test cluster's binaries, keyed by a
 * hash of their sources so that an edit rebuilds them.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { access, constants, mkdir, mkdtemp, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultCacheDir } from "../../src/testing/index.js";

/** A Go module under bench/: its folder's name. */
export type GoModule = "client-go" | "controller-runtime";

function go(moduleDir: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("go", [...args], { cwd: moduleDir, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-4000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", (err: NodeJS.ErrnoException) =>
      reject(
        err.code === "ENOENT"
          ? new Error("'go' is not installed: install Go 1.25 or newer to run this benchmark")
          : err,
      ),
    );
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`go ${args.join(" ")} failed (exit ${code}):\n${output}`)),
    );
  });
}

/** The path of the built program, building it first if this version of its sources has not been built yet. */
export async function ensureGoProgram(log: (line: string) => void, module: GoModule = "client-go"): Promise<string> {
  const moduleDir = fileURLToPath(new URL(`../../../bench/${module}/`, import.meta.url));
  const binaryName = `kindwatch-bench-${module}`;
  const hash = createHash("sha256");
  // Every Go source, so that a new file rebuilds it too.
  const sources = (await readdir(moduleDir))
    .filter((f) => f === "go.mod" || f === "go.sum" || f.endsWith(".go"))
    .sort();
  for (const file of sources) hash.update(file).update(await readFile(join(moduleDir, file)));
  const dir = join(defaultCacheDir(), `bench-${module}-${hash.digest("hex").slice(0, 12)}`);
  const binary = join(dir, binaryName);
  try {
    await access(binary, constants.X_OK);
    return binary;
  } catch {
    // not built yet
  }
  log(`building ${binaryName} (${module}) into ${dir}`);
  await mkdir(join(dir, ".."), { recursive: true });
  // Built in a fresh folder renamed into place, so that a build cut short never looks finished.
  const staging = await mkdtemp(join(dir, "..", ".build-bench-"));
  try {
    const env = { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" };
    await go(moduleDir, ["build", "-trimpath", "-o", join(staging, binaryName), "."], env);
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return binary;
}
