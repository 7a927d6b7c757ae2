/**
 * `kindwatch export`: the watch-all stream delivered to a sink as CloudEvents, at least once: the checkpoint advances
 * only past what the sink acknowledged, so a restart after a crash delivers again what was not.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { kubeconfigPaths, readKubeconfig } from "../../config/kubeconfig.js";
import type { DataMode } from "../../sinks/cloudevent.js";
import { UsageError } from "../args.js";
import type { CommandContext } from "../context.js";
import { CliError } from "../errors.js";
import { exitOk } from "../exit.js";
import { selection } from "../watch-select.js";
import { checkCheckpoint, engineOptions } from "./watch.js";

const dataModes: readonly DataMode[] = ["object", "metadata", "patch"];

/** `--cluster-name`, else the kubeconfig context's cluster, else the server's host (a pod's service account). */
function clusterName(ctx: CommandContext, server: string): string {
  const { inv, io } = ctx;
  if (inv.clusterName !== undefined) return inv.clusterName;
  try {
    const kc = readKubeconfig(inv.kubeconfig ? [inv.kubeconfig] : kubeconfigPaths(io.env));
    const name = inv.context ?? kc.currentContext;
    const cluster = kc.contexts.find((c) => c.name === name)?.value.cluster;
    if (cluster) return cluster;
  } catch {
    // No kubeconfig: the connection came from the service account; the server names the cluster then.
  }
  return new URL(server).host;
}

async function serveMetrics(
  listen: { host: string; port: number },
  metrics: () => Promise<{ type: string; text: string }>,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics") {
      metrics().then(
        ({ type, text }) => {
          res.writeHead(200, { "content-type": type });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(err.message);
        },
      );
    } else if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          `cannot listen on ${listen.host}:${listen.port} (--metrics-listen): ${err.code === "EADDRINUSE" ? "the address is in use" : err.message}`,
        ),
      ),
    );
    server.listen(listen.port, listen.host || undefined, () => resolve());
  });
  return server;
}

/** Runs `kindwatch export`. */
export async function exportCommand(ctx: CommandContext): Promise<number> {
  const { inv, signal } = ctx;
  if (!inv.sink)
    throw new UsageError(
      "kindwatch export needs --sink URL (file:///path/events.ndjson, -, http(s)://, nats://, kafka://)",
      "export",
    );
  if (!inv.checkpoint) throw new UsageError("kindwatch export needs --checkpoint FILE", "export");
  const data = (inv.data ?? "object") as DataMode;
  if (!dataModes.includes(data)) {
    throw new UsageError(`--data ${JSON.stringify(inv.data)}: use object, metadata or patch`, "export");
  }
  let listen: { host: string; port: number } | undefined;
  if (inv.metricsListen !== undefined) {
    const { parseListen } = await import("../../gateway/gateway.js");
    try {
      listen = parseListen(inv.metricsListen, "--metrics-listen");
    } catch (err) {
      throw new UsageError((err as Error).message, "export");
    }
  }
  const [{ sinkFromUrl, Exporter, ExportError }, { WatchAll }] = await Promise.all([
    import("../../sinks/index.js"),
    import("../../watchall/engine.js"),
  ]);
  const options: Record<string, string> = {};
  for (const option of inv.sinkOptions) {
    const eq = option.indexOf("=");
    if (eq <= 0) throw new UsageError(`--sink-option ${option}: use NAME=VALUE, e.g. mode=batch`, "export");
    options[option.slice(0, eq)] = option.slice(eq + 1);
  }
  let sink: ReturnType<typeof sinkFromUrl>;
  try {
    // Events go to stdout with -: nothing else may be written there.
    sink = sinkFromUrl(inv.sink, { stdout: process.stdout, options });
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  let server: Server | undefined;
  try {
    const cluster = ctx.cluster();
    // Reaches the server and checks the credentials before anything else, as watch does.
    await cluster.discovery.snapshot({ signal });
    const selected = await selection(ctx, cluster, { words: [...inv.args, ...inv.kinds] });
    await checkCheckpoint(inv.checkpoint);
    const registry = new Registry();
    const exporter = new Exporter({
      sink,
      clusterName: clusterName(ctx, cluster.config.server),
      data,
      latestState: inv.latestState,
      accepts: (e) => selected.accepts(e),
      registry,
      logger: (level, message, fields) => {
        if (level === "info" && !inv.verbose) return;
        const detail = fields && Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : "";
        ctx.io.stderr.write(`${ctx.errStyle.dim(`[${level}]`)} ${message}${detail}\n`);
      },
    });
    if (listen) {
      server = await serveMetrics(listen, async () => ({ type: registry.contentType, text: await registry.metrics() }));
    }
    const engine = new WatchAll(cluster, {
      ...engineOptions(ctx, selected, () => {}),
      acknowledge: "manual",
    });
    const where = server
      ? `, metrics on http://${listen?.host || "0.0.0.0"}:${(server.address() as AddressInfo).port}`
      : "";
    await ctx.notice(`exporting to ${sink.name}, checkpoint ${inv.checkpoint}${where}`);
    await engine.start(signal);
    try {
      await exporter.run(engine, signal);
    } catch (err) {
      if (err instanceof ExportError) throw new CliError(err.message);
      throw err;
    }
  } finally {
    await sink.close();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  }
  return exitOk;
}
