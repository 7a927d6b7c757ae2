/** `kindwatch operator`: runs the AI-model operator until SIGTERM or SIGINT, then drains it and releases its Lease. */
import { readFile } from "node:fs/promises";
import type { LeaseTiming } from "../../manager/lease.js";
import { UsageError } from "../args.js";
import type { CommandContext } from "../context.js";
import { CliError } from "../errors.js";
import { exitOk } from "../exit.js";

function adminUrl(text: string | undefined): string {
  if (!text) throw new UsageError("kindwatch operator needs --gateway-admin-url URL", "operator");
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new UsageError(`--gateway-admin-url ${JSON.stringify(text)} is not an http(s) URL`, "operator");
  }
  return text;
}

async function gatewayToken(file: string | undefined): Promise<string> {
  if (!file) throw new UsageError("kindwatch operator needs --gateway-token-file FILE", "operator");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read --gateway-token-file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const token = text.trim();
  if (token === "") throw new CliError(`--gateway-token-file ${file} is empty`);
  return token;
}

/** The Lease's timing from `--lease-duration`, `--renew-deadline` and `--retry-period`, the defaults for the others. */
async function leaseTiming(inv: CommandContext["inv"]): Promise<LeaseTiming> {
  const { parseDuration } = await import("../../operator/binding.js");
  const { defaultLeaseTiming, validateLeaseTiming } = await import("../../manager/lease.js");
  const ms = (flag: string, text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    const value = parseDuration(text);
    if (value === undefined || value <= 0) {
      throw new UsageError(`${flag} ${JSON.stringify(text)} is not a duration like 500ms, 15s or 1m`, "operator");
    }
    return value;
  };
  const timing: LeaseTiming = {
    leaseDurationMs: ms("--lease-duration", inv.leaseDuration, defaultLeaseTiming.leaseDurationMs),
    renewDeadlineMs: ms("--renew-deadline", inv.renewDeadline, defaultLeaseTiming.renewDeadlineMs),
    retryPeriodMs: ms("--retry-period", inv.retryPeriod, defaultLeaseTiming.retryPeriodMs),
  };
  try {
    validateLeaseTiming(timing);
  } catch (err) {
    const message = (err as Error).message
      .replace(/^leader election: /, "")
      .replaceAll("leaseDurationMs", "--lease-duration")
      .replaceAll("renewDeadlineMs", "--renew-deadline")
      .replaceAll("retryPeriodMs", "--retry-period")
      .replace(/\((\d+)\)/g, "($1 ms)");
    throw new UsageError(message, "operator");
  }
  return timing;
}

/** Starts the operator, says where its probes are, and runs until the signal (or until it loses its Lease). */
export async function operatorCommand(ctx: CommandContext): Promise<number> {
  const { inv } = ctx;
  if (inv.args.length > 0) throw new UsageError(`kindwatch operator takes no argument "${inv.args[0]}"`, "operator");
  const url = adminUrl(inv.gatewayAdminUrl);
  const timingFlags = {
    "--lease-name": inv.leaseName,
    "--lease-namespace": inv.leaseNamespace,
    "--lease-duration": inv.leaseDuration,
    "--renew-deadline": inv.renewDeadline,
    "--retry-period": inv.retryPeriod,
  };
  for (const [flag, value] of Object.entries(timingFlags)) {
    if (value !== undefined && !inv.leaderElect) throw new UsageError(`${flag} needs --leader-elect`, "operator");
  }
  const { parseListen } = await import("../../gateway/gateway.js");
  const { serviceUrlFrom, defaultServiceUrlTemplate, startOperator } = await import("../../operator/operator.js");
  const { operatorLeaseName } = await import("../../operator/rbac.js");
  let listen: { host: string; port: number };
  try {
    listen = parseListen(inv.metricsListen ?? "0.0.0.0:8080", "--metrics-listen");
    serviceUrlFrom(inv.serviceUrlTemplate ?? defaultServiceUrlTemplate);
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/^service URL template/, "--service-url-template"), "operator");
  }
  const timing = await leaseTiming(inv);
  const token = await gatewayToken(inv.gatewayTokenFile);
  const cluster = ctx.cluster();
  const leaseNamespace = inv.leaseNamespace ?? inv.namespace ?? cluster.config.namespace;
  const leaseName = inv.leaseName ?? operatorLeaseName;
  const operator = await startOperator({
    cluster,
    gateway: { adminUrl: url, token },
    namespace: inv.namespace,
    leaderElection: inv.leaderElect ? { namespace: leaseNamespace, name: leaseName, ...timing } : false,
    listen: { host: listen.host || undefined, port: listen.port },
    serviceUrlTemplate: inv.serviceUrlTemplate,
  }).catch((err: unknown) => {
    throw new CliError((err as Error).message);
  });
  const where = operator.address();
  await ctx.notice(
    `operator running: gateway ${url}, ${inv.namespace ? `namespace ${inv.namespace}` : "all namespaces"}, ` +
      `${inv.leaderElect ? `leader election on Lease ${leaseNamespace}/${leaseName}` : "no leader election"}, ` +
      `metrics and probes on http://${where?.host ?? listen.host}:${where?.port ?? listen.port}`,
  );
  const stopped = new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
  });
  await Promise.race([stopped, operator.done.catch(() => {})]);
  await operator.stop();
  try {
    await operator.done;
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  return exitOk;
}
