/**
 * A loopback TCP proxy that a test controls, in front of the real API server. It forwards bytes untouched, so TLS runs
 * end to end between the client and the API server (certificate checks included: the serving certificate covers
 * 127.0.0.1, where the proxy listens), and on command it resets, stalls or cuts connections. It counts what it sees,
 * so that tests can assert on connections and retries instead of on timing.
 *
 * @example
 * const proxy = await TcpProxy.start(cluster.server);
 * const config = { ...adminConfig, server: proxy.url };   // same CA, same credentials, through the proxy
 * proxy.resetNext();                                      // the next connection is reset as soon as it is accepted
 * ...
 * await proxy.close();
 */
import { connect, createServer, type Server, type Socket } from "node:net";

/**
 * What the proxy does with a connection it accepts:
 * - `forward`: connects to the target and relays both ways;
 * - `reset`: resets it at once (TCP RST), as a crashing server or a middlebox does;
 * - `stall`: keeps it open and reads what the client sends, but never answers, as a hung server does.
 */
export type ProxyMode = "forward" | "reset" | "stall";

/** One accepted connection and, when forwarded, its upstream half. */
interface Link {
  readonly client: Socket;
  upstream?: Socket;
  /** Relays nothing any more (see {@link TcpProxy.freeze}). */
  frozen?: boolean;
}

/** A TCP proxy on 127.0.0.1 with a free port. Start with {@link TcpProxy.start}; {@link close} when done. */
export class TcpProxy {
  /** The port the proxy listens on. */
  readonly port: number;
  /** The target's URL with the proxy's address: use it as a cluster's `server`. */
  readonly url: string;
  /** What happens to the connections accepted from now on (open ones keep what they had). */
  mode: ProxyMode = "forward";
  /** How long what the server sends waits before it is relayed, on connections accepted from now on: a slow network. */
  latencyMs = 0;
  readonly #server: Server;
  readonly #target: { host: string; port: number };
  readonly #links = new Set<Link>();
  #accepted = 0;
  #closed = 0;
  #resetNext = 0;
  #bytesToServer = 0;
  #bytesFromServer = 0;

  private constructor(server: Server, port: number, target: URL) {
    this.#server = server;
    this.port = port;
    this.#target = {
      host: target.hostname.replace(/^\[|\]$/g, ""),
      port: Number(target.port || (target.protocol === "https:" ? 443 : 80)),
    };
    this.url = `${target.protocol}//127.0.0.1:${port}`;
  }

  /** Starts a proxy to `target` (a URL such as the cluster's server), in `forward` mode unless told otherwise. */
  static async start(target: string, mode: ProxyMode = "forward"): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (typeof address !== "object" || !address) throw new Error("the proxy has no address");
    const proxy = new TcpProxy(server, address.port, new URL(target));
    proxy.mode = mode;
    server.on("connection", (socket) => proxy.#accept(socket));
    return proxy;
  }

  /** Connections accepted so far, whatever was done with them. */
  get accepted(): number {
    return this.#accepted;
  }

  /** Connections that were open and have closed since, from either end (resets at accept time not counted). */
  get closed(): number {
    return this.#closed;
  }

  /** Connections open now (accepted and not yet closed). */
  get open(): number {
    return this.#links.size;
  }

  /** Bytes relayed from clients to the target. */
  get bytesToServer(): number {
    return this.#bytesToServer;
  }

  /** Bytes relayed from the target to clients: grows while a response or a watch stream flows. */
  get bytesFromServer(): number {
    return this.#bytesFromServer;
  }

  /** Resets the next `count` connections as soon as they are accepted, whatever the mode; then the mode applies again. */
  resetNext(count = 1): void {
    this.#resetNext += count;
  }

  /** Resets every open connection, both halves: a request or a stream in flight breaks off mid-way. */
  cut(): void {
    for (const link of this.#links) {
      link.client.resetAndDestroy();
      link.upstream?.resetAndDestroy();
    }
    this.#links.clear();
  }

  /**
   * Stops relaying on every open connection without closing either half: a half-open connection, as a dead peer or a
   * silently dropping middlebox makes, which neither end notices by itself.
   */
  freeze(): void {
    for (const link of this.#links) {
      link.frozen = true;
      link.client.unpipe();
      link.upstream?.unpipe();
      // What either end sends from now on is read and dropped, not left unread: a paused socket holding unread bytes
      // (an HTTP/2 client's PINGs) would never see its end close, and the link would count as open for ever.
      link.client.resume();
      link.upstream?.resume();
    }
  }

  /** Stops listening and resets every open connection. */
  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.#accepted++;
    // A reset or a cut makes the peer's socket emit errors; they are the point, not a failure of the proxy.
    client.on("error", () => {});
    if (this.#resetNext > 0 || this.mode === "reset") {
      if (this.#resetNext > 0) this.#resetNext--;
      client.resetAndDestroy();
      return;
    }
    const link: Link = { client };
    this.#links.add(link);
    client.once("close", () => {
      this.#closed++;
      this.#links.delete(link);
      link.upstream?.destroy();
    });
    if (this.mode === "stall") {
      client.resume();
      return;
    }
    const upstream = connect(this.#target.port, this.#target.host);
    link.upstream = upstream;
    const latencyMs = this.latencyMs;
    upstream.on("error", () => {});
    // Timers of one delay fire in the order they were set: bytes held back still arrive in order, then the close. A
    // frozen link tells its client nothing, not even that the server closed.
    const closeClient = () => {
      if (!link.frozen) client.destroy();
    };
    upstream.once("close", () => (latencyMs > 0 ? setTimeout(closeClient, latencyMs) : closeClient()));
    client.on("data", (chunk: Buffer) => {
      if (!link.frozen) this.#bytesToServer += chunk.length;
    });
    upstream.on("data", (chunk: Buffer) => {
      if (link.frozen) return;
      this.#bytesFromServer += chunk.length;
      if (latencyMs > 0)
        setTimeout(() => {
          if (!link.frozen) client.write(chunk);
        }, latencyMs);
    });
    client.pipe(upstream);
    if (latencyMs === 0) upstream.pipe(client);
  }
}
