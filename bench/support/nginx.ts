/**
 * Debian's nginx (`/usr/sbin/nginx`, package nginx-light) as a foreground process of the benchmark's own: a generated
 * config in a temp dir (`daemon off`, pid, error log and temp paths there, no access log), one worker process.
 * Two uses: a plain reverse proxy with upstream keepalive (the gateway's peer), and a static upstream that answers every
 * request with the same JSON body (so that the upstream's own cost is as small as it can be).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../src/testing/ports.js";
import { waitFor } from "../../test/support/wait.js";

/** Debian's nginx binary. */
export const nginxBinary = "/usr/sbin/nginx";

/** The installed nginx's version (`nginx -v` prints to stderr). */
export function nginxVersion(): string {
  const run = spawnSync(nginxBinary, ["-v"], { encoding: "utf8" });
  return /nginx\/(\S+)/.exec(run.stderr ?? "")?.[1] ?? "not installed";
}

/** Settings both uses share: keep client connections for the whole run (nginx closes them after 1000 by default). */
function config(dir: string, server: string): string {
  return `daemon off;
master_process on;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
${server}
}
`;
}

/** Where a proxy sends a path prefix. */
export interface ProxyPass {
  readonly prefix: string;
  readonly upstream: string;
}

/** The config of a plain reverse proxy: each prefix to its upstream over kept-alive HTTP/1.1, unbuffered (for SSE). */
export function proxyConfig(dir: string, port: number, passes: readonly ProxyPass[]): string {
  const upstreams = passes.map(
    (p, i) =>
      `  upstream u${i} {\n    server ${new URL(p.upstream).host};\n    keepalive 256;\n    keepalive_requests 10000000;\n  }`,
  );
  const locations = passes.map(
    (p, i) => `    location ${p.prefix} {
      proxy_pass http://u${i};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }`,
  );
  return config(
    dir,
    `${upstreams.join("\n")}\n  server {\n    listen 127.0.0.1:${port};\n${locations.join("\n")}\n  }`,
  );
}

/** The config of a static upstream: every request answered 200 with `body` as JSON. */
export function staticConfig(dir: string, port: number, body: string): string {
  const quoted = body.replace(/\\/g, "\\\\").replace(/'/g, "\\'");
  return config(
    dir,
    `  server {\n    listen 127.0.0.1:${port};\n    location / {\n      default_type application/json;\n      return 200 '${quoted}';\n    }\n  }`,
  );
}

/** A running nginx: its master process, and the workers it forked. */
export class Nginx {
  readonly url: string;
  readonly #dir: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #stderr = "";

  private constructor(child: ChildProcess, port: number, dir: string) {
    this.#child = child;
    this.#dir = dir;
    this.url = `http://127.0.0.1:${port}`;
    child.stderr?.setEncoding("utf8").on("data", (d: string) => {
      this.#stderr = (this.#stderr + d).slice(-4000);
    });
    this.#exited = new Promise((resolve) => child.on("close", () => resolve()));
  }

  /** Starts nginx with the config `make(dir, port)` returns, on a free port; resolves once it accepts connections. */
  static async start(make: (dir: string, port: number) => string): Promise<Nginx> {
    const dir = mkdtempSync(join(tmpdir(), "kindwatch-bench-nginx-"));
    const port = await freePort();
    writeFileSync(join(dir, "nginx.conf"), make(dir, port));
    const child = spawn(nginxBinary, ["-p", dir, "-e", join(dir, "error.log"), "-c", join(dir, "nginx.conf")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    const nginx = new Nginx(child, port, dir);
    try {
      await waitFor(`nginx on port ${port}`, async () => {
        if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${nginx.#stderr}`);
        return (await accepts(port)) && (await nginx.pids()).length > 1;
      });
    } catch (err) {
      await nginx.stop();
      throw err;
    }
    return nginx;
  }

  /** The master's pid and its workers'. */
  async pids(): Promise<number[]> {
    const pid = this.#child.pid;
    if (pid === undefined) return [];
    const children = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8").catch(() => "");
    return [pid, ...children.trim().split(/\s+/).filter(Boolean).map(Number)];
  }

  /** Stops nginx (SIGQUIT: a graceful stop), waits for it to go, and removes its temp dir. */
  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill("SIGQUIT");
      const timer = setTimeout(() => this.#child.kill("SIGKILL"), 5000);
      await this.#exited;
      clearTimeout(timer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
