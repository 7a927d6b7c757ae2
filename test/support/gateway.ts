/**
 * `kindwatch gateway` as its own process for tests: started on free loopback ports, ready once it says where it
 * listens and `/readyz` answers; driven through its admin API.
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { request } from "undici";
import type { GatewaySpecs, SpecKind } from "../../src/gateway/state.js";
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
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer | Readable } = {},
): Promise<Answer> {
  const answer = await request(url, {
    method: (opts.method ?? "GET") as "GET",
    headers: opts.headers ?? {},
    body: opts.body ?? null,
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
}

/** A running `kindwatch gateway`. */
export class GatewayProcess {
  readonly cli: CliProcess;
  readonly url: string;
  readonly adminUrl: string;
  readonly bootId: string;
  readonly token: string;
  readonly #options: GatewayAddresses;

  private constructor(cli: CliProcess, found: RegExpExecArray, token: string, options: GatewayAddresses) {
    this.cli = cli;
    this.url = found[1] as string;
    this.adminUrl = found[2] as string;
    this.bootId = found[3] as string;
    this.token = token;
    this.#options = options;
  }

  /** Starts a gateway and waits until it is ready. */
  static async start(options: GatewayAddresses = {}, token = randomBytes(16).toString("hex")): Promise<GatewayProcess> {
    const tokenFile = join(processTempDir("kindwatch-gateway"), `token-${randomBytes(4).toString("hex")}`);
    writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
    const args = [
      "gateway",
      "--listen",
      options.listen ?? "127.0.0.1:0",
      "--admin-listen",
      options.adminListen ?? "127.0.0.1:0",
      "--admin-token-file",
      tokenFile,
      ...(options.maxBodyBytes === undefined ? [] : ["--max-body-bytes", String(options.maxBodyBytes)]),
      ...(options.flags ?? []),
      ...(options.redis === undefined ? [] : ["--redis", options.redis]),
      ...(options.redisFailOpen ? ["--redis-fail-open"] : []),
    ];
    const cli = new CliProcess(args, { timeoutMs: 10 * 60_000 });
    const line = /gateway listening on (\S+), admin API on (\S+), boot id (\S+)/;
    const found = await cli.until("the gateway to listen", (p) => line.exec(p.stderr) ?? undefined);
    const gateway = new GatewayProcess(cli, found, token, options);
    await waitFor("the gateway to be ready", async () => (await call(`${gateway.url}/readyz`)).status === 200);
    return gateway;
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
