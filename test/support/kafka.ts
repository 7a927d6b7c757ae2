/**
 * A real Kafka broker for the tests: kfake, franz-go's Kafka cluster in one Go process, which speaks the Kafka wire
 * protocol (idempotent producers, consumer groups, acks) but replicates nothing. Apache Kafka itself is a JVM download
 * this machine cannot fetch; kfake is built from its Go module (`test/cluster/kafka/`) into the test cluster's cache
 * on first use, like KWOK. The broker listens on a free loopback port and keeps its log in a folder with every write
 * synced, so it can be killed (as a crash) and started again on the same port with what it acknowledged.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { access, constants, mkdir, mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import kafkajs from "kafkajs";
import { defaultCacheDir } from "../../src/testing/binaries.js";
import { freePort } from "../../src/testing/ports.js";
import { processTempDir } from "./tempdir.js";
import { uniqueName, waitFor } from "./wait.js";

const moduleDir = fileURLToPath(new URL("../../../test/cluster/kafka/", import.meta.url));
const moduleFiles = ["go.mod", "go.sum", "main.go"];

async function buildOutput(cmd: string, args: string[], cwd: string): Promise<void> {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-4000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (exit ${code}):\n${tail}`);
}

/** The kfake binary built from `test/cluster/kafka/`, building it once (a minute or two) when the cache lacks it. */
export async function ensureKfake(): Promise<string> {
  const hash = createHash("sha256");
  for (const file of moduleFiles) hash.update(file).update(await readFile(join(moduleDir, file)));
  const dir = join(defaultCacheDir(), `kfake-${hash.digest("hex").slice(0, 12)}`);
  const binary = join(dir, "kfake");
  try {
    await access(binary, constants.X_OK);
    return binary;
  } catch {
    // Not built yet.
  }
  await mkdir(join(dir, ".."), { recursive: true });
  const staging = await mkdtemp(join(dir, "..", ".build-kfake-"));
  try {
    await buildOutput("go", ["build", "-trimpath", "-ldflags", "-s -w", "-o", join(staging, "kfake"), "."], moduleDir);
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return binary;
}

/** What a test reads back from a topic: the record as the broker keeps it. */
export interface ReadRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | undefined;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: string;
}

/** A kfake broker this test process started. */
export interface TestKafka {
  readonly port: number;
  /** Bootstrap address list, `127.0.0.1:port`. */
  readonly brokers: string[];
  /** Kills the broker at once (SIGKILL), as a crash would; what it acknowledged is on disk. */
  kill(): Promise<void>;
  /** Stops (SIGSTOP) or continues (SIGCONT) the broker: connections stay open, nothing is answered. */
  pause(): void;
  resume(): void;
  /** Starts it again on the same port with the same log. */
  restart(): Promise<void>;
  /** Every record of `topic`, read from the beginning by a consumer of its own, once `count` are there. */
  read(topic: string, count: number): Promise<ReadRecord[]>;
  /** The sum of `topic`'s partitions' high watermarks: how many records the broker has acknowledged. */
  acknowledged(topic: string): Promise<number>;
  stop(): Promise<void>;
}

/** How {@link startKafka} sets up the broker. */
export interface StartKafkaOptions {
  /** Topics made at start; default `kindwatch`. */
  readonly topics?: readonly string[];
  /** Partitions of each topic; default 3, so that keys spread. */
  readonly partitions?: number;
}

/** Starts kfake on 127.0.0.1 and answers once it listens. */
export async function startKafka(options: StartKafkaOptions = {}): Promise<TestKafka> {
  const binary = await ensureKfake();
  const port = await freePort();
  const brokers = [`127.0.0.1:${port}`];
  const dataDir = join(processTempDir("kindwatch-kafka"), uniqueName("broker"));
  const args = ["-port", String(port), "-data-dir", dataDir, "-partitions", String(options.partitions ?? 3)];
  for (const topic of options.topics ?? ["kindwatch"]) args.push("-topic", topic);
  let server: ChildProcess | undefined;

  async function launch() {
    let out = "";
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.stderr?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    server = child;
    await waitFor(
      `kfake on port ${port} to listen`,
      () => {
        if (child.exitCode !== null) throw new Error(`kfake exited ${child.exitCode}: ${out.trim()}`);
        return out.includes("listening ");
      },
      { timeoutMs: 20_000 },
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

  const client = new kafkajs.Kafka({
    clientId: "kindwatch-test",
    brokers,
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 500 },
  });

  async function acknowledged(topic: string): Promise<number> {
    const admin = client.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      return offsets.reduce((sum, p) => sum + Number(p.high), 0);
    } finally {
      await admin.disconnect();
    }
  }

  async function read(topic: string, count: number): Promise<ReadRecord[]> {
    const consumer = client.consumer({ groupId: uniqueName("reader"), sessionTimeout: 10_000 });
    const records: ReadRecord[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) {
            if (value !== undefined) headers[name] = value.toString();
          }
          records.push({
            partition,
            offset: message.offset,
            key: message.key?.toString(),
            value: message.value,
            headers,
            timestamp: message.timestamp,
          });
        },
      });
      await waitFor(`${count} records in ${topic}`, () => records.length >= count, { timeoutMs: 30_000 });
      return records;
    } finally {
      await consumer.disconnect();
    }
  }

  await launch();
  const killOnExit = () => server?.kill("SIGKILL");
  process.on("exit", killOnExit);
  return {
    port,
    brokers,
    kill,
    pause: () => server?.kill("SIGSTOP"),
    resume: () => server?.kill("SIGCONT"),
    async restart() {
      await kill();
      await launch();
    },
    read,
    acknowledged,
    async stop() {
      await kill();
      process.off("exit", killOnExit);
    },
  };
}
