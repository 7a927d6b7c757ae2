/** `kindwatch gateway`: runs the gateway until SIGTERM or SIGINT, then drains it. */
import { readFile } from "node:fs/promises";
// Static: this module loads only for `kindwatch gateway` (its own chunk of the split bundle), and a dynamic import of a
// CommonJS package keeps only its default export there, not `Redis`.
import { Redis } from "ioredis";
import type { AdminTlsOptions } from "../../gateway/gateway.js";
import { defaultMaxBodyBytes } from "../../gateway/server.js";
import { jsonLogger } from "../../manager/json-logger.js";
import type { KubeObject } from "../../object/types.js";
import { UsageError } from "../args.js";
import type { CommandContext } from "../context.js";
import { CliError } from "../errors.js";
import { exitOk } from "../exit.js";

/** How long requests in flight may take to finish after a stop signal: under main.ts's grace before it exits. */
const drainMs = 4000;

async function readFlagFile(flag: string, file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

async function adminTokenFromFile(file: string): Promise<string> {
  const token = (await readFlagFile("--admin-token-file", file)).trim();
  if (token === "") throw new CliError(`--admin-token-file ${file} is empty`);
  return token;
}

/** The admin listener's TLS files, read; undefined without `--admin-tls-cert`. */
async function adminTls(ctx: CommandContext): Promise<AdminTlsOptions | undefined> {
  const { adminTlsCert: cert, adminTlsKey: key, adminClientCa: clientCa } = ctx.inv;
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("--admin-tls-cert and --admin-tls-key go together", "gateway");
  }
  if (clientCa !== undefined && cert === undefined) {
    throw new UsageError("--admin-client-ca needs --admin-tls-cert and --admin-tls-key", "gateway");
  }
  if (cert === undefined || key === undefined) return undefined;
  return {
    cert: await readFlagFile("--admin-tls-cert", cert),
    key: await readFlagFile("--admin-tls-key", key),
    ...(clientCa === undefined ? {} : { clientCa: await readFlagFile("--admin-client-ca", clientCa) }),
  };
}

/** `--admin-token-secret NAMESPACE/NAME[:KEY]`. */
interface SecretRef {
  readonly namespace: string;
  readonly name: string;
  readonly key: string;
  readonly text: string;
}

function secretRef(text: string): SecretRef {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)(?::([-._a-zA-Z0-9]+))?$/.exec(text);
  if (!m) {
    throw new UsageError(`--admin-token-secret ${JSON.stringify(text)} is not NAMESPACE/NAME[:KEY]`, "gateway");
  }
  return { namespace: m[1] as string, name: m[3] as string, key: m[5] ?? "token", text };
}

/** The token a Secret holds under `key`, trimmed as a token file is; undefined when there is none. */
function tokenOf(secret: KubeObject | undefined, key: string): string | undefined {
  const value = (secret?.data as Record<string, unknown> | undefined)?.[key];
  if (typeof value !== "string") return undefined;
  const token = Buffer.from(value, "base64").toString("utf8").trim();
  return token === "" ? undefined : token;
}

/**
 * Reads the admin token from a Secret and watches it (an informer on that one Secret, so RBAC may name it): `onChange`
 * gets each new token, or undefined once the Secret or its key is gone. Fails when the Secret cannot be read, or has
 * no token, at start. The token is never printed.
 */
async function watchTokenSecret(
  ctx: CommandContext,
  ref: SecretRef,
  onChange: (token: string | undefined) => void,
): Promise<{ token: string; stop: () => Promise<void> }> {
  const lease = ctx.cluster().informers.acquire({
    gvr: { group: "", version: "v1", resource: "secrets" },
    namespace: ref.namespace,
    fieldSelector: `metadata.name=${ref.name}`,
  });
  const { informer } = lease;
  let offError = () => {};
  const failed = new Promise<never>((_, reject) => {
    offError = informer.onError((err) => reject(err));
  });
  try {
    await Promise.race([informer.synced(ctx.signal), failed]);
  } catch (err) {
    await lease.release();
    throw new CliError(`cannot read --admin-token-secret ${ref.text}: ${(err as Error).message}`);
  } finally {
    offError();
  }
  const token = tokenOf(informer.store.getByName(ref.namespace, ref.name), ref.key);
  if (token === undefined) {
    await lease.release();
    throw new CliError(`--admin-token-secret ${ref.text}: the Secret has no key "${ref.key}" with a token in it`);
  }
  let current: string | undefined = token;
  const seen = (secret: KubeObject | undefined) => {
    const next = tokenOf(secret, ref.key);
    if (next === current) return;
    current = next;
    onChange(next);
    void ctx.notice(
      next === undefined
        ? `gateway: --admin-token-secret ${ref.text} has no token any more: every admin request is refused until it has`
        : `gateway: the admin token of --admin-token-secret ${ref.text} changed, the previous one is refused`,
    );
  };
  const offHandlers = informer.addHandlers({
    add: (secret) => seen(secret),
    update: (_, secret) => seen(secret),
    delete: () => seen(undefined),
  });
  return {
    token,
    stop: async () => {
      offHandlers();
      await lease.release();
    },
  };
}

function bodyCap(text: string | undefined): number {
  if (text === undefined) return defaultMaxBodyBytes;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--max-body-bytes ${JSON.stringify(text)} is not a positive whole number`, "gateway");
  }
  return n;
}

function sessionRedis(url: string) {
  const client = new Redis(url, { commandTimeout: 1000, maxRetriesPerRequest: 1 });
  // Connection errors are reported by the limits' client; a failed session read answers that request.
  client.on("error", () => {});
  return client;
}

/** Starts the gateway, prints where it listens, and serves until the signal. */
export async function gatewayCommand(ctx: CommandContext): Promise<number> {
  const { inv } = ctx;
  if (inv.args.length > 0) throw new UsageError(`kindwatch gateway takes no argument "${inv.args[0]}"`, "gateway");
  const maxBodyBytes = bodyCap(inv.maxBodyBytes);
  const { parseListen, startGateway } = await import("../../gateway/gateway.js");
  const listen = inv.listen ?? "0.0.0.0:8080";
  const adminListen = inv.adminListen ?? "127.0.0.1:8081";
  try {
    parseListen(listen, "--listen");
    parseListen(adminListen, "--admin-listen");
  } catch (err) {
    throw new UsageError((err as Error).message, "gateway");
  }
  if (inv.redisFailOpen && !inv.redis) throw new UsageError("--redis-fail-open needs --redis URL", "gateway");
  if (inv.adminTokenFile !== undefined && inv.adminTokenSecret !== undefined) {
    throw new UsageError("--admin-token-file and --admin-token-secret exclude each other", "gateway");
  }
  const ref = inv.adminTokenSecret === undefined ? undefined : secretRef(inv.adminTokenSecret);
  const tls = await adminTls(ctx);
  if (inv.adminTokenFile === undefined && ref === undefined && tls?.clientCa === undefined) {
    throw new UsageError(
      "kindwatch gateway needs --admin-token-file FILE, --admin-token-secret NAMESPACE/NAME[:KEY] or --admin-client-ca FILE",
      "gateway",
    );
  }
  // Rotations seen before the gateway runs are kept here and handed over once it does.
  let latest: string | undefined;
  let rotate: ((token: string | undefined) => void) | undefined;
  const secret = ref
    ? await watchTokenSecret(ctx, ref, (next) => {
        latest = next;
        rotate?.(next);
      })
    : undefined;
  const token =
    secret?.token ?? (inv.adminTokenFile === undefined ? undefined : await adminTokenFromFile(inv.adminTokenFile));
  latest = token;
  const { memoryLimits, redisLimits } = await import("../../gateway/limits/index.js");
  const { loadTokenizers, memorySessions, redisSessions } = await import("../../gateway/llm/index.js");
  // Loaded before the first request, so that none pays for it (other commands never load them).
  loadTokenizers();
  const limits = inv.redis
    ? redisLimits(inv.redis, {
        failOpen: inv.redisFailOpen === true,
        onError: (err) => void ctx.notice(`gateway: ${err.message}`),
      })
    : memoryLimits();
  // Sessions get a client of their own that gives up as soon as the limits' does, rather than queue requests.
  const sessionClient = inv.redis ? sessionRedis(inv.redis) : undefined;
  const sessions = sessionClient ? redisSessions(sessionClient) : memorySessions();
  const closeStores = async () => {
    await secret?.stop();
    await Promise.all([limits.rate.close(), limits.budgets.close(), sessions.close()]);
    await sessionClient?.quit().catch(() => sessionClient.disconnect());
  };
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway({
      listen,
      adminListen,
      adminToken: token,
      adminTls: tls,
      maxBodyBytes,
      // stdout: stderr carries the command's own notices and errors.
      ...(inv.accessLog === false ? {} : { accessLog: jsonLogger({ destination: 1 }) }),
      rate: limits.rate,
      budgets: limits.budgets,
      sessions,
    });
  } catch (err) {
    await closeStores();
    throw new CliError((err as Error).message);
  }
  const running = gateway;
  rotate = (next) => running.setAdminToken(next);
  if (latest !== token) running.setAdminToken(latest);
  await ctx.notice(`gateway listening on ${gateway.url}, admin API on ${gateway.adminUrl}, boot id ${gateway.bootId}`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await gateway.stop(drainMs);
  await closeStores();
  return exitOk;
}
