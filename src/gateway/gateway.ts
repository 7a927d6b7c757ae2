/** A running gateway: the data plane and the admin API on their own listeners, stopped gracefully. */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
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
  /**
   * The admin API's bearer token; it may be left out only when `adminTls.clientCa` is given (client certificates then
   * authenticate alone). With both, a request needs both.
   */
  readonly adminToken?: string | undefined;
  /** Serve the admin API over HTTPS; with `clientCa`, only to clients with a certificate that CA signed (mTLS). */
  readonly adminTls?: AdminTlsOptions | undefined;
  /**
   * The registry the gateway's metrics go into and `/metrics` serves (default: a new one). Without `telemetry`, the
   * Prometheus telemetry records into it.
   */
  readonly registry?: MetricsRegistry;
}

/** The admin listener's TLS: its certificate and key, and the CA of the client certificates it requires (PEM). */
export interface AdminTlsOptions {
  readonly cert: string;
  readonly key: string;
  readonly clientCa?: string | undefined;
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
  /**
   * Rotates the admin API's bearer token: the old one is refused from the next request on; undefined refuses every
   * request until a token is set again. Does nothing when the gateway started without a token.
   */
  setAdminToken(token: string | undefined): void;
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

function listen(server: Server, where: { host: string; port: number }, flag: string, scheme = "http"): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const why = err.code === "EADDRINUSE" ? "the address is in use" : err.message;
      reject(new Error(`cannot listen on ${where.host}:${where.port} (${flag}): ${why}`));
    };
    server.once("error", onError);
    server.listen(where.port, where.host || undefined, () => {
      server.off("error", onError);
      const a = server.address() as AddressInfo;
      resolve(`${scheme}://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`);
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
  const tls = options.adminTls;
  let admin: AdminApi;
  try {
    admin = new AdminApi(
      plane,
      { token: options.adminToken, clientCertificates: tls?.clientCa !== undefined },
      randomUUID(),
    );
  } catch (err) {
    await plane.close();
    throw err;
  }
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
  const serveAdmin = (req: IncomingMessage, res: ServerResponse) => void admin.handle(req, res);
  // A client without a certificate the CA signed is refused in the handshake: it never reaches the admin API.
  const adminServer: Server = tls
    ? createHttpsServer(
        {
          cert: tls.cert,
          key: tls.key,
          noDelay: true,
          ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }),
        },
        serveAdmin,
      )
    : createServer({ noDelay: true }, serveAdmin);
  let url: string;
  let adminUrl: string;
  try {
    url = await listen(data, dataAt, "--listen");
    adminUrl = await listen(adminServer, adminAt, "--admin-listen", tls ? "https" : "http");
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
    setAdminToken: (token) => admin.setToken(token),
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
