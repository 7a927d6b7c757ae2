/**
 * Finds or builds the binaries of the test cluster: envtest's from `KUBEBUILDER_ASSETS` when present, else built once
 * from their Go modules into a cache outside the project. `test/cluster/` builds kube-apiserver, kube-controller-manager,
 * kube-scheduler and etcd; `test/cluster/kwok/` builds KWOK, only when the full control plane asks for it.
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
/** The KWOK release that simulates the full control plane's nodes. */
export const KWOK_VERSION = "0.8.0";

/** Which control plane a test cluster runs: kube-apiserver and etcd only, or also controllers, scheduler and nodes. */
export type ControlPlane = "bare" | "full";

/** Paths to the binaries a test cluster needs, and where they came from. */
export interface Binaries {
  readonly kubeApiServer: string;
  readonly etcd: string;
  /** Present when the full control plane was asked for. */
  readonly kubeControllerManager?: string | undefined;
  /** Present when the full control plane was asked for. */
  readonly kubeScheduler?: string | undefined;
  /** Present when the full control plane was asked for. */
  readonly kwok?: string | undefined;
  readonly origin: "KUBEBUILDER_ASSETS" | "cache" | "built";
}

/** How {@link ensureBinaries} looks for and builds binaries. */
export interface EnsureBinariesOptions {
  /** Where built binaries are kept; default `$KINDWATCH_CACHE_DIR`, else `$XDG_CACHE_HOME/kindwatch`, else `~/.cache/kindwatch`. */
  readonly cacheDir?: string | undefined;
  /** Ignore `KUBEBUILDER_ASSETS` even when it is set. */
  readonly ignoreKubebuilderAssets?: boolean | undefined;
  /** `"full"` also returns (and builds) kube-controller-manager, kube-scheduler and KWOK; default `"bare"`. */
  readonly controlPlane?: ControlPlane | undefined;
  /** Receives the Go build's output, a line at a time. */
  readonly log?: ((line: string) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The Go module that builds the binaries, shipped inside the package. */
export const goModuleDir = fileURLToPath(new URL("../../../test/cluster/", import.meta.url));
/** KWOK's Go module: apart, because KWOK needs newer k8s.io libraries than the Kubernetes release above. */
export const kwokModuleDir = join(goModuleDir, "kwok");

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

/** The files under {@link goModuleDir} that the builds read, and so the cache key hashes. */
export const goModuleFiles = [
  "go.mod",
  "go.sum",
  "tools.go",
  "cmd/etcd/main.go",
  "kwok/go.mod",
  "kwok/go.sum",
  "kwok/tools.go",
] as const;

async function moduleHash(): Promise<string> {
  const hash = createHash("sha256");
  for (const file of goModuleFiles) {
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
              `'${cmd}' is not installed: install Go 1.25 or newer (1.26 for the full plane's KWOK) to build the test cluster, or set KUBEBUILDER_ASSETS to a folder with envtest's binaries`,
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

const kubernetesCommands = {
  kubeApiServer: "kube-apiserver",
  kubeControllerManager: "kube-controller-manager",
  kubeScheduler: "kube-scheduler",
} as const;

/** Everything the `go build` of `test/cluster/` writes into `dir`. */
function kubernetesPaths(dir: string) {
  return {
    kubeApiServer: join(dir, kubernetesCommands.kubeApiServer),
    kubeControllerManager: join(dir, kubernetesCommands.kubeControllerManager),
    kubeScheduler: join(dir, kubernetesCommands.kubeScheduler),
    etcd: join(dir, "etcd"),
  };
}

function paths(dir: string, controlPlane: ControlPlane) {
  const all = kubernetesPaths(dir);
  if (controlPlane === "full") return { ...all, kwok: join(dir, "kwok") };
  return { kubeApiServer: all.kubeApiServer, etcd: all.etcd };
}

async function firstMissing(found: Record<string, string>): Promise<string | undefined> {
  for (const path of Object.values(found)) if (!(await executable(path))) return path;
  return undefined;
}

/**
 * Returns the test cluster's binaries, building them on first use (several minutes; later calls take milliseconds).
 * kube-apiserver, kube-controller-manager, kube-scheduler and etcd come from one `go build`, which shares most of its
 * packages between them; KWOK is built from its own module the first time the full control plane is asked for.
 */
export async function ensureBinaries(options: EnsureBinariesOptions = {}): Promise<Binaries> {
  const controlPlane = options.controlPlane ?? "bare";
  const assets = options.ignoreKubebuilderAssets ? undefined : process.env.KUBEBUILDER_ASSETS;
  if (assets) {
    const found = paths(assets, controlPlane);
    const missing = await firstMissing(found);
    if (!missing) return { ...found, origin: "KUBEBUILDER_ASSETS" };
    // envtest's folder has no controller-manager, scheduler or KWOK: the full plane builds its own set instead.
    if (controlPlane === "bare") {
      throw new Error(
        `KUBEBUILDER_ASSETS=${assets} has no executable ${missing}: point it at envtest's binaries or unset it`,
      );
    }
    options.log?.(`KUBEBUILDER_ASSETS=${assets} has no ${missing}; using binaries built from the Go modules`);
  }
  const dir = await cachedBinariesDir(options.cacheDir);
  const target = paths(dir, controlPlane);
  if (!(await firstMissing(target))) return { ...target, origin: "cache" };
  const haveKubernetes = !(await firstMissing(kubernetesPaths(dir)));
  // Build into a fresh folder and rename into place, so that a build cut short never looks finished and two concurrent
  // builds cannot mix their outputs.
  const parent = join(dir, "..");
  await mkdir(parent, { recursive: true });
  const staging = await mkdtemp(join(parent, ".build-"));
  try {
    const env = { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" };
    const runOpts = { ...options, env };
    const versionFlags = [
      `-X k8s.io/component-base/version.gitVersion=v${KUBERNETES_VERSION}`,
      `-X k8s.io/component-base/version.gitMajor=${KUBERNETES_VERSION.split(".")[0]}`,
      `-X k8s.io/component-base/version.gitMinor=${KUBERNETES_VERSION.split(".")[1]}`,
      "-X k8s.io/component-base/version.gitTreeState=clean",
    ].join(" ");
    // `-o DIR/` with several packages writes each command under its own name.
    const goBuild = (cwd: string, ldflags: string, pkgs: string[]) =>
      run("go", ["build", "-trimpath", "-ldflags", `-s -w ${ldflags}`.trim(), "-o", `${staging}/`, ...pkgs], {
        ...runOpts,
        cwd,
      });
    const buildKwok = async () => {
      options.log?.(`building KWOK v${KWOK_VERSION} into ${dir}`);
      await goBuild(kwokModuleDir, "", ["sigs.k8s.io/kwok/cmd/kwok"]);
    };
    if (haveKubernetes) {
      await buildKwok();
      await rename(join(staging, "kwok"), join(dir, "kwok"));
    } else {
      options.log?.(
        `building kube-apiserver, kube-controller-manager, kube-scheduler v${KUBERNETES_VERSION} and etcd v${ETCD_VERSION} into ${dir}`,
      );
      await goBuild(goModuleDir, versionFlags, [
        ...Object.values(kubernetesCommands).map((cmd) => `k8s.io/kubernetes/cmd/${cmd}`),
        "./cmd/etcd",
      ]);
      if (controlPlane === "full") await buildKwok();
      await rm(dir, { recursive: true, force: true });
      await rename(staging, dir);
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { ...target, origin: "built" };
}
