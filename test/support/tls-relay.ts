/**
 * A TLS-terminating relay in front of the real API server that speaks only HTTP/1.1, as some load balancers do: it
 * offers no `h2` over ALPN, opens its own TLS connection to the server (presenting the client certificate of the
 * config it is given, as a re-encrypting balancer does) and relays the bytes both ways.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connect, createServer, type Server, type TLSSocket } from "node:tls";
import type { ClusterConfig } from "../../src/config/types.js";
import { CertificateAuthority } from "../../src/testing/certs.js";

export class Http1Relay {
  readonly #server: Server;
  readonly #sockets = new Set<TLSSocket>();
  readonly #ca: string;
  /** Connections the relay accepted, and what ALPN settled on each. */
  readonly accepted: (string | false | null)[] = [];

  private constructor(server: Server, ca: string) {
    this.#server = server;
    this.#ca = ca;
  }

  /** Starts a relay to `config`'s server on a free loopback port. */
  static async start(config: ClusterConfig): Promise<Http1Relay> {
    const ca = CertificateAuthority.create("http1-relay-ca");
    const serving = ca.issue({ commonName: "http1-relay", hosts: ["127.0.0.1"], usage: "server" });
    const upstream = new URL(config.server);
    const server = createServer({ cert: serving.certPem, key: serving.keyPem, ALPNProtocols: ["http/1.1"] });
    const relay = new Http1Relay(server, ca.pair.certPem);
    server.on("secureConnection", (client: TLSSocket) => {
      relay.accepted.push(client.alpnProtocol);
      const server = connect({
        host: upstream.hostname,
        port: Number(upstream.port || 443),
        ca: config.tls.ca || undefined,
        cert: config.tls.cert,
        key: config.tls.key,
        servername: config.tls.serverName || undefined,
        ALPNProtocols: ["http/1.1"],
      });
      for (const s of [client, server]) {
        relay.#sockets.add(s);
        s.on("error", () => {
          client.destroy();
          server.destroy();
        });
        s.on("close", () => relay.#sockets.delete(s));
      }
      client.pipe(server).pipe(client);
    });
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return relay;
  }

  /** `config` sent through the relay, trusting the relay's certificate. */
  configFor(config: ClusterConfig): ClusterConfig {
    const { port } = this.#server.address() as AddressInfo;
    return {
      ...config,
      server: `https://127.0.0.1:${port}`,
      tls: { ...config.tls, ca: this.#ca, serverName: undefined },
      source: `${config.source} through an HTTP/1.1 relay`,
    };
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    this.#server.close();
    await once(this.#server, "close");
  }
}
