/** `kindwatch gateway`: runs the gateway until SIGTERM or SIGINT, then drains it. */
import { readFile } from "node:fs/promises";
import { defaultMaxBodyBytes } from "../../gateway/server.js";
import { jsonLogger } from "../../manager/json-logger.js";
import { UsageError } from "../args.js";
import type { CommandContext } from "../context.js";
import { CliError } from "../errors.js";
import { exitOk } from "../exit.js";

/** How long requests in flight may take to finish after a stop signal: under main.ts's grace before it exits. */
const drainMs = 4000;

async function adminToken(file: string | undefined): Promise<string> {
  if (!file) throw new UsageError("kindwatch gateway needs --admin-token-file FILE", "gateway");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read --admin-token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const token = text.trim();
  if (token === "") throw new CliError(`--admin-token-file ${file} is empty`);
  return token;
}

function bodyCap(text: string | undefined): number {
  if (text === undefined) return defaultMaxBodyBytes;
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--max-body-bytes ${JSON.stringify(text)} is not a positive whole number`, "gateway");
  }
  return n;
}

async function sessionRedis(url: string) {
  const { Redis } = await import("ioredis");
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
  const token = await adminToken(inv.adminTokenFile);
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
  const sessionClient = inv.redis ? await sessionRedis(inv.redis) : undefined;
  const sessions = sessionClient ? redisSessions(sessionClient) : memorySessions();
  const closeStores = async () => {
    await Promise.all([limits.rate.close(), limits.budgets.close(), sessions.close()]);
    await sessionClient?.quit().catch(() => sessionClient.disconnect());
  };
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  try {
    gateway = await startGateway({
      listen,
      adminListen,
      adminToken: token,
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
  await ctx.notice(`gateway listening on ${gateway.url}, admin API on ${gateway.adminUrl}, boot id ${gateway.bootId}`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await gateway.stop(drainMs);
  await closeStores();
  return exitOk;
}
