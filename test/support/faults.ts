/** Shared pieces of the fault tests: a cluster of their own, a ListWatch that counts its calls, raw etcd writes. */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, afterEach, before } from "node:test";
import type { ListWatch } from "../../src/cache/watcher.js";
import type { DynamicClient } from "../../src/client/resource.js";
import type { KubeObject } from "../../src/object/types.js";
import { simpleRequest, TestCluster, type TestClusterOptions } from "../../src/testing/index.js";
import { clientFor, namespacesGvr as namespaces } from "./client.js";
import { uniqueName } from "./wait.js";

/** A cluster for one fault test file, which may kill, restart and compact it, and an admin client of it. */
export async function faultCluster(options: TestClusterOptions = {}) {
  const cluster = await TestCluster.start(options);
  const admin = clientFor(cluster.kubeconfigPath);
  return {
    cluster,
    admin,
    async close() {
      await admin.transport.close();
      // A killed API server needs no graceful shutdown, which takes seconds.
      await cluster.stopApiServer("SIGKILL");
      await cluster.stop();
    },
  };
}

/**
 * Undo-steps to run after each test, passed or failed: an informer left running keeps retrying against a stopped
 * cluster, and keeps the test process (and the runner waiting on it) alive.
 */
export function cleanups() {
  const steps: (() => Promise<unknown>)[] = [];
  return {
    defer(step: () => Promise<unknown>): void {
      steps.push(step);
    },
    async run(): Promise<void> {
      for (const step of steps.splice(0).reverse()) await step().catch(() => undefined);
    },
  };
}

/**
 * The wires a transport-level fault test runs on, each as the transport options that choose it: HTTP/2 (the default,
 * every watch of the cluster multiplexed over one connection) and HTTP/1.1 (a connection per watch).
 */
export const protocols = [
  { name: "HTTP/2", http2: true },
  { name: "HTTP/1.1", http2: false },
] as const;

/** One of {@link protocols}. */
export type Protocol = (typeof protocols)[number];

/** A fault test file's cluster (see {@link faultCluster}). */
export type FaultCluster = Awaited<ReturnType<typeof faultCluster>>;

/** What {@link faultSuite} gives a test file. */
export interface FaultSuite {
  /** The file's cluster; there from its first test on. */
  readonly env: FaultCluster;
  /** A namespace made for the file, `PREFIX-RANDOM`. */
  readonly ns: string;
  /** Undo-steps, run after each test. */
  readonly cleanup: ReturnType<typeof cleanups>;
}

/**
 * Registers, in the calling `describe()`, what most fault test files need: a cluster of their own (started before
 * the first test, with a namespace made in it, and stopped after the last), and undo-steps run after each test.
 */
export function faultSuite(prefix: string, options: TestClusterOptions = {}): FaultSuite {
  const ns = uniqueName(prefix);
  const cleanup = cleanups();
  let env: FaultCluster | undefined;
  before(async () => {
    env = await faultCluster(options);
    await createNamespace(env.admin.client, ns);
  });
  afterEach(() => cleanup.run());
  after(() => env?.close());
  return {
    ns,
    cleanup,
    get env() {
      if (!env) throw new Error("the fault cluster is not started: use it in tests, not while declaring them");
      return env;
    },
  };
}

/** The admin's kubeconfig with its server swapped for `url` (a proxy in front of it); returns the file's path. */
export async function kubeconfigVia(cluster: TestCluster, url: string): Promise<string> {
  const path = join(cluster.dir, `via-${new URL(url).port}.kubeconfig`);
  const text = await readFile(cluster.kubeconfigPath, "utf8");
  await writeFile(path, text.replaceAll(cluster.server, url), { mode: 0o600 });
  return path;
}

/** Creates namespace `name`. */
export async function createNamespace(client: DynamicClient, name: string): Promise<void> {
  await client.resource(namespaces).create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
}

/** A ListWatch that counts the requests it starts, and when: how a test proves that retries do not spin. */
export function counting<T extends KubeObject>(inner: ListWatch<T>) {
  const calls = { lists: 0, watches: 0, watchTimes: [] as number[] };
  const source: ListWatch<T> = {
    description: inner.description,
    list: (opts) => {
      calls.lists++;
      return inner.list(opts);
    },
    watch: (opts) => {
      calls.watches++;
      calls.watchTimes.push(Date.now());
      return inner.watch(opts);
    },
  };
  return { source, calls };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

/** Writes to etcd directly, behind the API server's back, as only a crash window or another server could. */
export async function etcdPut(cluster: TestCluster, key: string, value: unknown): Promise<void> {
  const res = await simpleRequest(`${cluster.etcdUrl}/v3/kv/put`, {
    method: "POST",
    body: { key: b64(key), value: b64(JSON.stringify(value)) },
  });
  if (res.status !== 200) throw new Error(`etcd put ${key}: ${res.status} ${res.text}`);
}

/** Deletes a key in etcd directly; returns how many keys went. */
export async function etcdDelete(cluster: TestCluster, key: string): Promise<number> {
  const res = await simpleRequest(`${cluster.etcdUrl}/v3/kv/deleterange`, {
    method: "POST",
    body: { key: b64(key) },
  });
  if (res.status !== 200) throw new Error(`etcd delete ${key}: ${res.status} ${res.text}`);
  return Number((res.json as { deleted?: string }).deleted ?? 0);
}
