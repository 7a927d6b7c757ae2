/**
 * `kindwatch gateway` as its own process for tests: started on free loopback ports, ready once it says where it
 * listens and `/readyz` answers; driven through its admin API.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { Agent, type Dispatcher, request } from "undici";
import type { GatewaySpecs, SpecKind } from "../../src/gateway/state.js";
import type { KeyPair } from "../../src/testing/certs.js";
import { CliProcess } from "./cli.js";
import { processTempDir } from "./tempdir.js";
import { waitFor } from "./wait.js";

/** An answer read whole. */
export interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** The body parsed, when it is JSON. */
  readonly json: Record<string, unknown> | undefined;
}

/** Sends a request and reads the whole answer. */
export async function call(
  url: string,
  opts: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer | Readable;
    dispatcher?: Dispatcher;
  } = {},
): Promise<Answer> {
  const answer = await request(url, {
    method: (opts.method ?? "GET") as "GET",
    headers: opts.headers ?? {},
    body: opts.body ?? null,
    ...(opts.dispatcher ? { dispatcher: opts.dispatcher } : {}),
  });
  const text = await answer.body.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: answer.statusCode, headers: answer.headers, text, json };
}

/** Where a gateway listens: `127.0.0.1:0` picks free ports. */
export interface GatewayAddresses {
  readonly listen?: string;
  readonly adminListen?: string;
  readonly maxBodyBytes?: number;
  /** More flags of `kindwatch gateway` (`--access-log=false`). */
  readonly flags?: readonly string[];
  /** `--redis URL`: limits and sessions shared through this Redis. */
  readonly redis?: string;
  /** `--redis-fail-open`. */
  readonly redisFailOpen?: boolean;
  /** No admin token at all: the admin API authenticates by client certificate alone (`adminTls.mtls`). */
  readonly tokenless?: boolean;
  /** `--admin-token-secret REF` read with `kubeconfig`, instead of a token file. */
  readonly tokenSecret?: { readonly ref: string; readonly kubeconfig: string };
  /** The admin API over HTTPS (`--admin-tls-cert`, `--admin-tls-key`), and with `mtls` requiring client certificates. */
  readonly adminTls?: AdminTls;
}

/** The admin API's TLS in a test: the serving pair and its CA, and for mTLS the client CA and the client's own pair. */
export interface AdminTls {
  readonly serving: KeyPair;
  /** The CA that signed `serving`: what {@link GatewayProcess.admin} trusts. */
  readonly ca: string;
  /** `--admin-client-ca` and the certificate {@link GatewayProcess.admin} presents. */
  readonly mtls?: { readonly clientCa: string; readonly client: KeyPair };
}

function writeSecretFile(dir: string, name: string, text: string): string {
  const file = join(dir, `${name}-${randomBytes(4).toString("hex")}`);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}

function tlsFlags(dir: string, tls: AdminTls | undefined): string[] {
  if (!tls) return [];
  return [
    "--admin-tls-cert",
    writeSecretFile(dir, "cert", tls.serving.certPem),
    "--admin-tls-key",
    writeSecretFile(dir, "key", tls.serving.keyPem),
    ...(tls.mtls ? ["--admin-client-ca", writeSecretFile(dir, "client-ca", tls.mtls.clientCa)] : []),
  ];
}

/** A running `kindwatch gateway`. */
export class GatewayProcess {
  readonly cli: CliProcess;
  readonly url: string;
  readonly adminUrl: string;
  readonly bootId: string;
  /** The admin token admin() sends (with `tokenless`, the gateway does not know it). */
  readonly token: string;
  /** Presents the client certificate and trusts the admin API's CA, with `adminTls`. */
  readonly adminDispatcher: Agent | undefined;
  readonly #options: GatewayAddresses;

  private constructor(cli: CliProcess, found: RegExpExecArray, token: string, options: GatewayAddresses) {
    this.cli = cli;
    this.url = found[1] as string;
    this.adminUrl = found[2] as string;
    this.bootId = found[3] as string;
    this.token = token;
    this.#options = options;
    const tls = options.adminTls;
    this.adminDispatcher =
      tls &&
      new Agent({
        connect: { ca: tls.ca, ...(tls.mtls ? { cert: tls.mtls.client.certPem, key: tls.mtls.client.keyPem } : {}) },
      });
  }

  /**
   * Starts gateways side by side. When one fails, the others are stopped before the error is thrown: a gateway left
   * running would hold the test file's process open until its own timeout.
   */
  static async startAll(options: readonly GatewayAddresses[]): Promise<GatewayProcess[]> {
    const started = await Promise.allSettled(options.map((o) => GatewayProcess.start(o)));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
    const running = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    if (failed) {
      await Promise.all(running.map((g) => g.stop()));
      throw failed.reason;
    }
    return running;
  }

  /**
   * Starts a gateway and waits until it is ready. Its admin token is `token`, in a token file (or, with `tokenSecret`,
   * what the test put in the Secret); with `tokenless`, it has none.
   */
  static async start(options: GatewayAddresses = {}, token = randomBytes(16).toString("hex")): Promise<GatewayProcess> {
    const dir = processTempDir("kindwatch-gateway");
    const tokenFlags = options.tokenSecret
      ? ["--admin-token-secret", options.tokenSecret.ref]
      : options.tokenless
        ? []
        : ["--admin-token-file", writeSecretFile(dir, "token", `${token}\n`)];
    const args = [
      "gateway",
      "--listen",
      options.listen ?? "127.0.0.1:0",
      "--admin-listen",
      options.adminListen ?? "127.0.0.1:0",
      ...tokenFlags,
      ...tlsFlags(dir, options.adminTls),
      ...(options.maxBodyBytes === undefined ? [] : ["--max-body-bytes", String(options.maxBodyBytes)]),
      ...(options.flags ?? []),
      ...(options.redis === undefined ? [] : ["--redis", options.redis]),
      ...(options.redisFailOpen ? ["--redis-fail-open"] : []),
    ];
    const cli = new CliProcess(args, {
      timeoutMs: 10 * 60_000,
      ...(options.tokenSecret ? { kubeconfig: options.tokenSecret.kubeconfig } : {}),
    });
    const line = /gateway listening on (\S+), admin API on (\S+), boot id (\S+)/;
    try {
      const found = await cli.until("the gateway to listen", (p) => line.exec(p.stderr) ?? undefined);
      const gateway = new GatewayProcess(cli, found, token, options);
      await waitFor("the gateway to be ready", async () => (await call(`${gateway.url}/readyz`)).status === 200);
      return gateway;
    } catch (err) {
      // A gateway that never got ready would keep the test's process alive until its timeout.
      cli.child.kill("SIGKILL");
      throw err;
    }
  }

  /** Stops this gateway and starts another on the same ports. */
  async restart(): Promise<GatewayProcess> {
    await this.stop();
    return this.startAgain();
  }

  /** Kills this gateway with SIGKILL (no drain, nothing said to anyone) and waits until it is gone. */
  async kill(): Promise<void> {
    if (this.cli.child.exitCode === null && this.cli.child.signalCode === null) await this.cli.stop("SIGKILL");
  }

  /** Starts another gateway with this one's ports, flags and token (once this one is gone): a restarted process. */
  startAgain(): Promise<GatewayProcess> {
    const port = (u: string) => new URL(u).port;
    return GatewayProcess.start(
      { ...this.#options, listen: `127.0.0.1:${port(this.url)}`, adminListen: `127.0.0.1:${port(this.adminUrl)}` },
      this.token,
    );
  }

  /** Calls the admin API with the gateway's token (or `token`). */
  admin(method: string, path: string, body?: unknown, token: string | null = this.token): Promise<Answer> {
    return call(`${this.adminUrl}${path}`, {
      method,
      ...(this.adminDispatcher ? { dispatcher: this.adminDispatcher } : {}),
      headers: {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
  }

  /** PUTs an object and fails unless it went live. */
  async put<K extends SpecKind>(kind: K, spec: GatewaySpecs[K] | Record<string, unknown>): Promise<Answer> {
    const answer = await this.admin("PUT", `/admin/v1/${kind}/${(spec as { name: string }).name}`, spec);
    if (answer.status !== 200) throw new Error(`PUT ${kind}: ${answer.status} ${answer.text}`);
    return answer;
  }

  /** `/admin/v1/state`. */
  async state(): Promise<Record<string, unknown>> {
    const answer = await this.admin("GET", "/admin/v1/state");
    if (answer.status !== 200) throw new Error(`state: ${answer.status} ${answer.text}`);
    return answer.json as Record<string, unknown>;
  }

  /** Sends a request to the data plane. */
  call(path: string, opts: Parameters<typeof call>[1] = {}): Promise<Answer> {
    return call(`${this.url}${path}`, opts);
  }

  /** Stops the gateway with SIGTERM and waits for it to exit. */
  async stop(): Promise<void> {
    await this.adminDispatcher?.close();
    if (this.cli.child.exitCode === null && this.cli.child.signalCode === null) await this.cli.stop("SIGTERM");
  }
}

let generation = 0;

/** A source for a spec: a fixed uid and a generation higher than any before in this process. */
export function source(uid = "uid-1"): { uid: string; generation: number } {
  return { uid, generation: ++generation };
}

/** The OpenAI-format error an answer carries; throws when it carries none. */
export function errorOf(answer: Answer): { message: string; type: string; param: unknown; code: unknown } {
  const error = answer.json?.error;
  if (typeof error !== "object" || error === null) {
    throw new Error(`not an OpenAI error: ${answer.status} ${answer.text}`);
  }
  return error as { message: string; type: string; param: unknown; code: unknown };
}

/**
 * An address whose TCP handshake never completes, for connect timeouts: a listener whose thread is blocked, so that it
 * accepts nothing, with its accept queue full (Linux holds backlog + 1 connections), so that the kernel drops further
 * SYNs. Non-routable addresses do not do this reliably (a sandbox's proxy may answer them).
 */
export async function unansweredAddress(): Promise<{ url: string; close(): Promise<void> }> {
  const blocked = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData, parentPort } = require("node:worker_threads");
    const server = require("node:net").createServer().listen({ port: 0, host: "127.0.0.1", backlog: 1 }, () => {
      parentPort.postMessage(server.address().port);
      Atomics.wait(workerData, 0, 0);
      server.close();
    });`,
    { eval: true, workerData: blocked },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const socket = connect(port, "127.0.0.1");
    fillers.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
  }
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      for (const s of fillers) s.destroy();
      Atomics.store(blocked, 0, 1);
      Atomics.notify(blocked, 0);
      await worker.terminate();
    },
  };
}
