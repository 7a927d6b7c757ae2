/**
 * Finds or builds the kube-apiserver and etcd binaries of the test cluster: envtest's from `KUBEBUILDER_ASSETS` when
 * present, else built once from their Go modules (the module in `test/cluster/`) into a cache outside the project.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { access, constants, mkdir, mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The Kubernetes release the test cluster runs. */
export const KUBERNETES_VERSION = "1.35.4";
/** The etcd release the test cluster runs (the one that Kubernetes release is built and tested with). */
export const ETCD_VERSION = "3.6.5";

/** Paths to the two binaries a test cluster needs, and where they came from. */
export interface Binaries {
  readonly kubeApiServer: string;
  readonly etcd: string;
  readonly origin: "KUBEBUILDER_ASSETS" | "cache" | "built";
}

/** How {@link ensureBinaries} looks for and builds binaries. */
export interface EnsureBinariesOptions {
  /** Where built binaries are kept; default `$KINDWATCH_CACHE_DIR`, else `$XDG_CACHE_HOME/kindwatch`, else `~/.cache/kindwatch`. */
  readonly cacheDir?: string | undefined;
  /** Ignore `KUBEBUILDER_ASSETS` even when it is set. */
  readonly ignoreKubebuilderAssets?: boolean | undefined;
  /** Receives the Go build's output, a line at a time. */
  readonly log?: ((line: string) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The Go module that builds the binaries, shipped inside the package. */
export const goModuleDir = fileURLToPath(new URL("../../../test/cluster/", import.meta.url));

/** The default folder for built binaries. */
export function defaultCacheDir(): string {
  const env = process.env;
  if (env.KINDWATCH_CACHE_DIR) return env.KINDWATCH_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "kindwatch");
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function moduleHash(): Promise<string> {
  const hash = createHash("sha256");
  for (const file of ["go.mod", "go.sum", "tools.go", "cmd/etcd/main.go"]) {
    hash.update(file).update(await readFile(join(goModuleDir, file)));
  }
  return hash.digest("hex").slice(0, 12);
}

/** The folder that holds (or will hold) the binaries built from the current Go module. */
export async function cachedBinariesDir(cacheDir = defaultCacheDir()): Promise<string> {
  return join(cacheDir, `k8s-v${KUBERNETES_VERSION}-etcd-v${ETCD_VERSION}-${await moduleHash()}`);
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv } & EnsureBinariesOptions) {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", "pipe", "pipe"],
      signal: opts.signal,
    });
    let tail = "";
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      tail = (tail + text).slice(-4000);
      for (const line of text.split("\n")) if (line) opts.log?.(line);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", (err: NodeJS.ErrnoException) => {
      reject(
        err.code === "ENOENT"
          ? new Error(
              `'${cmd}' is not installed: install Go 1.25 or newer to build kube-apiserver and etcd, or set KUBEBUILDER_ASSETS to a folder with envtest's binaries`,
            )
          : err,
      );
    });
    child.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(" ")} failed (exit ${code}):\n${tail}`));
    });
  });
}

/**
 * Returns kube-apiserver and etcd, building them on first use (several minutes; later calls take milliseconds).
 */
export async function ensureBinaries(options: EnsureBinariesOptions = {}): Promise<Binaries> {
  const assets = options.ignoreKubebuilderAssets ? undefined : process.env.KUBEBUILDER_ASSETS;
  if (assets) {
    const found = { kubeApiServer: join(assets, "kube-apiserver"), etcd: join(assets, "etcd") };
    for (const path of Object.values(found)) {
      if (!(await executable(path))) {
        throw new Error(
          `KUBEBUILDER_ASSETS=${assets} has no executable ${path}: point it at envtest's binaries or unset it`,
        );
      }
    }
    return { ...found, origin: "KUBEBUILDER_ASSETS" };
  }
  const dir = await cachedBinariesDir(options.cacheDir);
  const target = { kubeApiServer: join(dir, "kube-apiserver"), etcd: join(dir, "etcd") };
  if ((await executable(target.kubeApiServer)) && (await executable(target.etcd))) {
    return { ...target, origin: "cache" };
  }
  // Build into a fresh folder and rename it into place, so that a build cut short never looks finished and two
  // concurrent builds cannot mix their outputs.
  const parent = join(dir, "..");
  await mkdir(parent, { recursive: true });
  const staging = await mkdtemp(join(parent, ".build-"));
  try {
    const env = { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" };
    const versionFlags = [
      `-X k8s.io/component-base/version.gitVersion=v${KUBERNETES_VERSION}`,
      `-X k8s.io/component-base/version.gitMajor=${KUBERNETES_VERSION.split(".")[0]}`,
      `-X k8s.io/component-base/version.gitMinor=${KUBERNETES_VERSION.split(".")[1]}`,
      "-X k8s.io/component-base/version.gitTreeState=clean",
    ].join(" ");
    const build = (out: string, pkg: string, ldflags: string) =>
      run("go", ["build", "-trimpath", "-ldflags", `-s -w ${ldflags}`, "-o", join(staging, out), pkg], {
        ...options,
        cwd: goModuleDir,
        env,
      });
    options.log?.(`building kube-apiserver v${KUBERNETES_VERSION} and etcd v${ETCD_VERSION} into ${dir}`);
    await build("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver", versionFlags);
    await build("etcd", "./cmd/etcd", "");
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { ...target, origin: "built" };
}
