/**
 * A real NATS for the tests: Debian's `nats-server` with JetStream, on loopback, on a free port, storing in a temp
 * dir. It can be killed and started again on the same port and store, to test what a sink does while it is gone.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JetStreamManager, jetstreamManager, type StoredMsg } from "@nats-io/jetstream";
import { connect, credsAuthenticator, type NatsConnection, nkeys } from "@nats-io/transport-node";
import { CertificateAuthority } from "../../src/testing/certs.js";
import { freePort } from "../../src/testing/ports.js";
import { waitFor } from "./wait.js";

/** How to configure the server: limits and authorization the tests need. */
export interface NatsServerOptions {
  /** The largest message the server takes (its `max_payload`), in bytes. */
  maxPayload?: number;
  /** Clients must log in with this user and password. */
  user?: { name: string; password: string };
  /**
   * Decentralized auth (operator mode): an operator, an account with JetStream and a user whose `.creds` file the
   * server answers as {@link TestNats.credsFile}.
   */
  operator?: boolean;
  /** Mutual TLS: the server presents a certificate of a fresh CA and requires a client certificate of the same CA. */
  tls?: boolean;
}

/** A client's TLS files, for a server started with `tls`. */
export interface NatsTlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A `nats-server` this test process started. */
export interface TestNats {
  port: number;
  url: string;
  /** The server process's pid (undefined while it is down), to charge CPU time to it. */
  readonly pid: number | undefined;
  /** The client's CA, certificate and key files when the server requires mutual TLS. */
  tls: NatsTlsFiles | undefined;
  /** The user's `.creds` file when the server runs in operator mode. */
  credsFile: string | undefined;
  /** A connection of its own (reconnecting across restarts), for the test's checks; closed by `stop`. */
  client: NatsConnection;
  jsm: JetStreamManager;
  /** Every message `stream` holds, in stream order. */
  messages(stream: string): Promise<StoredMsg[]>;
  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Stops (SIGSTOP) or continues (SIGCONT) the server: connected, but answering nothing, as a hung host. */
  pause(): void;
  resume(): void;
  /** Starts it again on the same port and store, and waits until JetStream answers. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `nats-server -js` on 127.0.0.1 and answers once JetStream answers; fails at once when it is not installed. */
export async function startNats(options: NatsServerOptions = {}): Promise<TestNats> {
  if (spawnSync("nats-server", ["--version"]).error) {
    throw new Error("nats-server is not installed: apt-get install -y nats-server (.ci/run does it in CI)");
  }
  const port = await freePort();
  const url = `nats://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), "kindwatch-nats-"));
  const config = join(dir, "nats.conf");
  const lines = [`listen: "127.0.0.1:${port}"`, `jetstream { store_dir: ${JSON.stringify(join(dir, "store"))} }`];
  if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
  if (options.user) {
    lines.push(
      `authorization { user: ${JSON.stringify(options.user.name)}, password: ${JSON.stringify(options.user.password)} }`,
    );
  }
  let tls: NatsTlsFiles | undefined;
  if (options.tls) {
    const ca = CertificateAuthority.create("kindwatch-nats-test-ca");
    const server = ca.issue({ commonName: "nats-server", hosts: ["127.0.0.1", "localhost"], usage: "server" });
    const client = ca.issue({ commonName: "kindwatch", usage: "client" });
    const file = (name: string, pem: string) => {
      writeFileSync(join(dir, name), pem, { mode: 0o600 });
      return join(dir, name);
    };
    const caFile = file("ca.pem", ca.pair.certPem);
    tls = { caFile, certFile: file("client.pem", client.certPem), keyFile: file("client-key.pem", client.keyPem) };
    const [cert, key] = [file("server.pem", server.certPem), file("server-key.pem", server.keyPem)];
    lines.push(
      `tls { cert_file: ${JSON.stringify(cert)}, key_file: ${JSON.stringify(key)}, ca_file: ${JSON.stringify(caFile)}, verify: true }`,
    );
  }
  let credsFile: string | undefined;
  let creds: Uint8Array | undefined;
  if (options.operator) {
    const operator = nkeys.createOperator();
    const account = nkeys.createAccount();
    const system = nkeys.createAccount();
    const user = nkeys.createUser();
    const accountLimits = {
      subs: -1,
      data: -1,
      payload: -1,
      imports: -1,
      exports: -1,
      wildcards: true,
      conn: -1,
      leaf: -1,
    };
    const permissions = { pub: {}, sub: {} };
    const jetStreamLimits = { mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 };
    const accountJwt = natsJwt(operator, account.getPublicKey(), {
      type: "account",
      limits: { ...accountLimits, ...jetStreamLimits },
      default_permissions: permissions,
    });
    const systemJwt = natsJwt(operator, system.getPublicKey(), {
      type: "account",
      limits: accountLimits,
      default_permissions: permissions,
    });
    lines.push(
      `operator: ${natsJwt(operator, operator.getPublicKey(), { type: "operator" })}`,
      "resolver: MEMORY",
      `system_account: ${system.getPublicKey()}`,
      `resolver_preload: { ${account.getPublicKey()}: ${accountJwt}, ${system.getPublicKey()}: ${systemJwt} }`,
    );
    creds = new TextEncoder().encode(userCreds(account, user));
    credsFile = join(dir, "user.creds");
    writeFileSync(credsFile, creds, { mode: 0o600 });
  }
  writeFileSync(config, `${lines.join("\n")}\n`);
  const auth = {
    ...(options.user ? { user: options.user.name, pass: options.user.password } : {}),
    ...(tls ? { tls: { ...tls } } : {}),
    ...(creds ? { authenticator: credsAuthenticator(creds) } : {}),
  };
  let server: ChildProcess | undefined;
  let stderr = "";

  async function launch() {
    stderr = "";
    const child = spawn("nats-server", ["-c", config], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    server = child;
    await waitFor(
      `nats-server on port ${port} to answer JetStream requests`,
      async () => {
        if (child.exitCode !== null) throw new Error(`nats-server exited ${child.exitCode}: ${stderr.trim()}`);
        const probe = await connect({ servers: url, reconnect: false, timeout: 1000, ...auth });
        try {
          await (await jetstreamManager(probe)).getAccountInfo();
          return true;
        } finally {
          await probe.close();
        }
      },
      { timeoutMs: 15_000 },
    );
  }

  async function kill() {
    const child = server;
    server = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  await launch();
  const client = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 100, ...auth });
  const jsm = await jetstreamManager(client);
  // A request the client buffers while it is away may go unanswered, so the checks after a restart wait until it is back.
  let reconnects = 0;
  void (async () => {
    for await (const s of client.status()) if (s.type === "reconnect") reconnects++;
  })();
  const killOnExit = () => {
    server?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.on("exit", killOnExit);
  return {
    port,
    url,
    tls,
    credsFile,
    get pid() {
      return server?.pid;
    },
    client,
    jsm,
    async messages(stream) {
      const { state } = await jsm.streams.info(stream);
      const out: StoredMsg[] = [];
      if (state.messages === 0) return out;
      for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(stream, { seq });
        if (m) out.push(m);
      }
      return out;
    },
    kill,
    pause: () => server?.kill("SIGSTOP"),
    resume: () => server?.kill("SIGCONT"),
    async restart() {
      const seen = reconnects;
      await kill();
      await launch();
      await waitFor("the test's NATS client to reconnect", () => reconnects > seen, { timeoutMs: 15_000 });
    },
    async stop() {
      await client.close();
      await kill();
      rmSync(dir, { recursive: true, force: true });
      process.off("exit", killOnExit);
    },
  };
}

type KeyPair = ReturnType<typeof nkeys.createUser>;

/** A NATS JWT (what `nsc` writes) for `subject`, signed by `issuer`. */
function natsJwt(issuer: KeyPair, subject: string, nats: Record<string, unknown>): string {
  const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const claims = {
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name: subject.slice(0, 8),
    sub: subject,
    nats: { ...nats, version: 2 },
  };
  const jti = createHash("sha256").update(JSON.stringify(claims)).digest("hex").toUpperCase();
  const signed = `${encode({ typ: "JWT", alg: "ed25519-nkey" })}.${encode({ jti, ...claims })}`;
  return `${signed}.${Buffer.from(issuer.sign(new TextEncoder().encode(signed))).toString("base64url")}`;
}

/** A `.creds` file's text for `user` of `account`; an account the server does not know makes credentials it refuses. */
export function userCreds(account: KeyPair = nkeys.createAccount(), user: KeyPair = nkeys.createUser()): string {
  const jwt = natsJwt(account, user.getPublicKey(), {
    type: "user",
    pub: {},
    sub: {},
    subs: -1,
    data: -1,
    payload: -1,
  });
  const seed = new TextDecoder().decode(user.getSeed());
  return [
    "-----BEGIN NATS USER JWT-----",
    jwt,
    "------END NATS USER JWT------",
    "",
    "-----BEGIN USER NKEY SEED-----",
    seed,
    "------END USER NKEY SEED------",
    "",
  ].join("\n");
}
