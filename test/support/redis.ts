/**
 * A real Redis for the tests: Debian's `redis-server` on loopback, on a free port, with no persistence. It can be
 * killed and started again on the same port, to test what the limits do while it is gone.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { Redis } from "ioredis";
import { freePort } from "../../src/testing/ports.js";
import { waitFor } from "./wait.js";

/** A `redis-server` this test process started. */
export interface TestRedis {
  port: number;
  url: string;
  /** A client of its own, for the test's checks (TIME, EXISTS); closed by `stop`. */
  client: Redis;
  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Stops (SIGSTOP) or continues (SIGCONT) the server: connected, but answering nothing, as a hung host. */
  pause(): void;
  resume(): void;
  /** Starts it again on the same port (empty: nothing persisted) and waits for PING. */
  restart(): Promise<void>;
  /** The server's clock in ms (TIME), the one the limits' scripts read. */
  time(): Promise<number>;
  stop(): Promise<void>;
}

/** Starts `redis-server` on 127.0.0.1 and answers once it answers PING; fails at once when it is not installed. */
export async function startRedis(): Promise<TestRedis> {
  if (spawnSync("redis-server", ["--version"]).error) {
    throw new Error("redis-server is not installed: apt-get install -y redis-server (.ci/run does it in CI)");
  }
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;
  let stderr = "";

  async function launch() {
    stderr = "";
    const child = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    server = child;
    const ping = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    ping.on("error", () => {});
    try {
      await waitFor(
        `redis-server on port ${port} to answer PING`,
        async () => {
          if (child.exitCode !== null) throw new Error(`redis-server exited ${child.exitCode}: ${stderr.trim()}`);
          if (ping.status !== "ready") {
            ping.disconnect();
            await ping.connect();
          }
          return (await ping.ping()) === "PONG";
        },
        { timeoutMs: 10_000 },
      );
    } finally {
      ping.disconnect();
    }
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
  const client = new Redis(url, { retryStrategy: () => 50 });
  client.on("error", () => {});
  const killOnExit = () => server?.kill("SIGKILL");
  process.on("exit", killOnExit);
  return {
    port,
    url,
    client,
    kill,
    pause: () => server?.kill("SIGSTOP"),
    resume: () => server?.kill("SIGCONT"),
    async restart() {
      await kill();
      await launch();
    },
    async time() {
      const [seconds, micros] = await client.time();
      return Number(seconds) * 1000 + Number(micros) / 1000;
    },
    async stop() {
      client.disconnect();
      await kill();
      process.off("exit", killOnExit);
    },
  };
}
