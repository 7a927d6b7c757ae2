/** A running gateway: the data plane and the admin API on their own listeners, stopped gracefully. */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import type { MetricsRegistry } from "../metrics/prometheus.js";
import { AdminApi } from "./admin.js";
import { DataPlane, type DataPlaneOptions } from "./server.js";
import { breakerStateGauge, prometheusTelemetry } from "./telemetry.js";

/** Where to listen and what to enforce. */
export interface GatewayOptions extends DataPlaneOptions {
  /** The data plane's `host:port` (port 0: any free port). */
  readonly listen: string;
  /** The admin API's `host:port`. */
  readonly adminListen: string;
  /** The admin API's bearer token. */
  readonly adminToken: string;
  /**
   * The registry the gateway's metrics go into and `/metrics` serves (default: a new one). Without `telemetry`, the
   * Prometheus telemetry records into it.
   */
  readonly registry?: MetricsRegistry;
}

/** A started gateway. */
export interface RunningGateway {
  /** The data plane's base URL (`http://host:port`), with the port it got. */
  readonly url: string;
  readonly adminUrl: string;
  readonly bootId: string;
  readonly plane: DataPlane;
  /** The registry `/metrics` serves. */
  readonly registry: MetricsRegistry;
  /** Stops accepting, lets requests in flight finish for up to `graceMs`, then cuts what remains. */
  stop(graceMs?: number): Promise<void>;
}

/** Splits `host:port` (`[::1]:8080` too); throws a message naming the bad value. */
export function parseListen(text: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new Error(`${flag} ${JSON.stringify(text)} is not HOST:PORT`);
  return { host: m[1] ?? m[2] ?? "", port };
}

function listen(server: Server, where: { host: string; port: number }, flag: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "the address is in use" : err.message;
      reject(new Error(`cannot listen on ${where.host}:${where.port} (${flag}): ${why}`));
    };
    server.once("error", onError);
    server.listen(where.port, where.host || undefined, () => {
      server.off("error", onError);
      const a = server.address() as AddressInfo;
      resolve(`http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`);
    });
  });
}

function sendPlain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { "content-type": "text/plain", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** The registry's scrape; a collect that throws is a 500 naming it, never a crash. */
async function sendMetrics(res: ServerResponse, registry: MetricsRegistry): Promise<void> {
  try {
    const text = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType, "content-length": Buffer.byteLength(text) });
    res.end(text);
  } catch (err) {
    sendPlain(res, 500, `collecting metrics failed: ${(err as Error).message}\n`);
  }
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Starts a gateway with empty state and a new boot id; rejects when a listener cannot be opened. */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const dataAt = parseListen(options.listen, "--listen");
  const adminAt = parseListen(options.adminListen, "--admin-listen");
  const registry = options.registry ?? new Registry();
  const plane = new DataPlane({
    ...options,
    telemetry:
      options.telemetry ??
      prometheusTelemetry(registry, { modelOf: (name) => plane.state.get("profiles", name)?.model }),
  });
  breakerStateGauge(registry, () => plane.breakerReadings());
  const admin = new AdminApi(plane, options.adminToken, randomUUID());
  let draining = false;
  const inFlight = new Set<ServerResponse>();
  let idle: (() => void) | undefined;
  const data = createServer({ noDelay: true }, (req: IncomingMessage, res: ServerResponse) => {
    if (draining) res.setHeader("connection", "close");
    const path = req.url ?? "/";
    if (path === "/healthz") return sendPlain(res, 200, "ok\n");
    if (path === "/readyz") return draining ? sendPlain(res, 503, "draining\n") : sendPlain(res, 200, "ok\n");
    if (path === "/metrics" && req.method === "GET") return void sendMetrics(res, registry);
    inFlight.add(res);
    res.on("close", () => {
      inFlight.delete(res);
      if (inFlight.size === 0) idle?.();
    });
    void plane.handle(req, res);
  });
  const adminServer = createServer({ noDelay: true }, (req, res) => void admin.handle(req, res));
  let url: string;
  let adminUrl: string;
  try {
    url = await listen(data, dataAt, "--listen");
    adminUrl = await listen(adminServer, adminAt, "--admin-listen");
  } catch (err) {
    data.close();
    adminServer.close();
    await plane.close();
    throw err;
  }
  return {
    url,
    adminUrl,
    bootId: admin.bootId,
    plane,
    registry,
    async stop(graceMs = 4000) {
      draining = true;
      // Every answer from now on closes its connection (those begun too, if their head is not out yet): a client
      // keeping a connection alive would otherwise be served on it until the deadline.
      for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
      const closed = Promise.all([close(data), close(adminServer)]);
      data.closeIdleConnections();
      adminServer.closeAllConnections();
      if (inFlight.size > 0) {
        await new Promise<void>((resolve) => {
          idle = resolve;
          setTimeout(resolve, graceMs).unref();
        });
      }
      data.closeAllConnections();
      await closed;
      await plane.close();
    },
  };
}
