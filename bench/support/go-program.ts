/**
 * The benchmark's Go program (bench/client-go: client-go's informer and watch-all, and the churn generator), built on
 * first use into the same cache folder as the test cluster's binaries, keyed by a hash of its sources so that an edit
 * rebuilds it.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { access, constants, mkdir, mkdtemp, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultCacheDir } from "../../src/testing/index.js";

const moduleDir = fileURLToPath(new URL("../../../bench/client-go/", import.meta.url));
const binaryName = "kindwatch-bench-client-go";

function go(args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
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
export async function ensureGoProgram(log: (line: string) => void): Promise<string> {
  const hash = createHash("sha256");
  // Every Go source, so that a new file rebuilds it too.
  const sources = (await readdir(moduleDir))
    .filter((f) => f === "go.mod" || f === "go.sum" || f.endsWith(".go"))
    .sort();
  for (const file of sources) hash.update(file).update(await readFile(join(moduleDir, file)));
  const dir = join(defaultCacheDir(), `bench-client-go-${hash.digest("hex").slice(0, 12)}`);
  const binary = join(dir, binaryName);
  try {
    await access(binary, constants.X_OK);
    return binary;
  } catch {
    // not built yet
  }
  log(`building ${binaryName} (client-go) into ${dir}`);
  await mkdir(join(dir, ".."), { recursive: true });
  // Built in a fresh folder renamed into place, so that a build cut short never looks finished.
  const staging = await mkdtemp(join(dir, "..", ".build-bench-"));
  try {
    const env = { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" };
    await go(["build", "-trimpath", "-o", join(staging, binaryName), "."], env);
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return binary;
}
