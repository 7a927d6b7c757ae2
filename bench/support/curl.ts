/**
 * Lists with curl into /dev/null: no parsing, no storing, so the time it takes is the floor for any informer's initial
 * list from the same server. The admin's credentials are written to a private temporary folder for curl to read.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config/index.js";

/** How long a set of parallel lists took, and how many bytes the server sent. */
export interface RawList {
  readonly seconds: number;
  readonly bytes: number;
}

/** curl, set up with a kubeconfig's server and credentials. */
export class Curl {
  readonly #server: string;
  readonly #dir: string;
  readonly #args: readonly string[];

  private constructor(server: string, dir: string, args: readonly string[]) {
    this.#server = server;
    this.#dir = dir;
    this.#args = args;
  }

  /** Reads the kubeconfig's current context and writes what curl needs; {@link close} removes it. */
  static async fromKubeconfig(kubeconfig: string): Promise<Curl> {
    const config = loadConfig({ kubeconfig });
    const credentials = await config.auth.credentials();
    const dir = await mkdtemp(join(tmpdir(), "kindwatch-curl-"));
    const args: string[] = [];
    const file = async (name: string, content: string, flag: string) => {
      await writeFile(join(dir, name), content, { mode: 0o600 });
      args.push(flag, join(dir, name));
    };
    try {
      if (config.tls.ca) await file("ca.pem", config.tls.ca, "--cacert");
      if (config.tls.insecureSkipVerify) args.push("--insecure");
      const cert = credentials.cert ?? config.tls.cert;
      const key = credentials.key ?? config.tls.key;
      if (cert && key) {
        await file("cert.pem", cert, "--cert");
        await file("key.pem", key, "--key");
      }
      // In a config file rather than on the command line, where any process could read it.
      if (credentials.token)
        await file("auth.conf", `header = "Authorization: Bearer ${credentials.token}"\n`, "--config");
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return new Curl(config.server, dir, args);
  }

  /** GETs every path at once (one connection each), discarding the bodies. */
  list(paths: readonly string[], timeoutMs: number): Promise<RawList> {
    const args = [
      "--silent",
      "--show-error",
      "--fail",
      "--parallel",
      "--parallel-immediate",
      "--parallel-max",
      String(paths.length),
      "--header",
      "Accept: application/json",
      "--write-out",
      "%{size_download}\\n",
      ...this.#args,
      ...paths.flatMap((path) => ["--output", "/dev/null", `${this.#server}${path}`]),
    ];
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const child = spawn("curl", args, { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
      });
      child.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("error", (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(err.code === "ENOENT" ? new Error("'curl' is not installed: install it to run this benchmark") : err);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        const seconds = (performance.now() - started) / 1000;
        if (code !== 0) return reject(new Error(`curl exited with ${code}: ${stderr.trim()}`));
        const sizes = stdout.trim().split("\n").map(Number);
        if (sizes.length !== paths.length || sizes.some((n) => !Number.isFinite(n))) {
          return reject(new Error(`curl reported sizes ${JSON.stringify(stdout)} for ${paths.length} lists`));
        }
        resolve({ seconds, bytes: sizes.reduce((a, b) => a + b, 0) });
      });
    });
  }

  /** Removes the credentials written for curl. */
  async close(): Promise<void> {
    await rm(this.#dir, { recursive: true, force: true });
  }
}
