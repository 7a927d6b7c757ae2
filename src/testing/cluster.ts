/**
 * A real Kubernetes control plane for tests: etcd and kube-apiserver on free loopback ports, with generated
 * certificates, RBAC on, an admin user, users minted on demand, and the knobs fault tests need (restart the API server
 * over the same etcd, compact etcd, watch cache off). On request, the full plane: also kube-controller-manager,
 * kube-scheduler and KWOK's simulated nodes.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Binaries, type ControlPlane, ensureBinaries } from "./binaries.js";
import { CertificateAuthority, serviceAccountKeys } from "./certs.js";
import { type FakeNodesOptions, fakeNodeNames, startFullPlane } from "./controlplane.js";
import { kubeconfigYaml } from "./kubeconfig.js";
import { freePort } from "./ports.js";
import { ManagedProcess, releaseTempDir, removeOnExit } from "./process.js";
import { type Credentials, simpleRequest } from "./request.js";

// Where it was defined before it had a module of its own; tests take closed ports from it.
export { freePort };

/** Who a test user is to RBAC: bind roles to this subject. */
export interface RbacSubject {
  readonly kind: "User" | "ServiceAccount";
  readonly name: string;
  readonly namespace?: string | undefined;
  readonly apiGroup?: string | undefined;
}

/** A user minted for a test, with a kubeconfig of its own. */
export interface TestUser {
  readonly name: string;
  readonly groups: readonly string[];
  readonly subject: RbacSubject;
  readonly credentials: Credentials;
  /** The user's kubeconfig, as YAML. */
  readonly kubeconfig: string;
  /** The same kubeconfig, written to a file that is removed with the cluster. */
  readonly kubeconfigPath: string;
}

/** What a test needs from a cluster, whether the harness started it or was pointed at it. */
export interface ClusterAccess {
  /** The API server's URL. */
  readonly server: string;
  /** A kubeconfig with full rights. */
  readonly kubeconfigPath: string;
  /** The credentials in that kubeconfig. */
  readonly admin: Credentials;
  /** Mints a user with no rights but those RBAC grants to it (and to `groups`). */
  user(name: string, groups?: readonly string[]): Promise<TestUser>;
}

/** Options of {@link TestCluster.start}. */
export interface TestClusterOptions extends FakeNodesOptions {
  /**
   * `"bare"` (default): etcd and kube-apiserver only, fast to start; nothing acts on the objects. `"full"`: also
   * kube-controller-manager, kube-scheduler and KWOK's fake nodes, so that Deployments make Pods that run, owners'
   * dependents are garbage-collected and namespaces go away.
   */
  readonly controlPlane?: ControlPlane | undefined;
  /** Binaries to run; default {@link ensureBinaries}. */
  readonly binaries?: Binaries | undefined;
  /** Where to write the admin kubeconfig; default a file in the cluster's temporary folder. */
  readonly kubeconfigPath?: string | undefined;
  /** kube-apiserver's watch cache; default on, as in production. */
  readonly watchCache?: boolean | undefined;
  /** More kube-apiserver flags, `--name=value` each. */
  readonly apiServerArgs?: readonly string[] | undefined;
  /** More etcd flags, `--name=value` each. */
  readonly etcdArgs?: readonly string[] | undefined;
  /** How long start-up may take before it fails; default 120 s (180 s for the full plane). */
  readonly startTimeoutMs?: number | undefined;
  /** Receives progress messages (builds, start-up). */
  readonly log?: ((line: string) => void) | undefined;
}

/** Polls `check` until it returns true, failing early when `proc` dies and with a clear message at the deadline. */
async function waitUntil(what: string, check: () => Promise<boolean>, proc: ManagedProcess, deadline: number) {
  for (;;) {
    if (!proc.running) throw new Error(`${proc.name} exited before ${what}:\n${proc.tail}`);
    try {
      if (await check()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; ${proc.name} said:\n${proc.tail}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const addressInUse = /address already in use/i;

/**
 * A running etcd + kube-apiserver pair, and on the full plane its other components. Start with
 * {@link TestCluster.start}, end with {@link TestCluster.stop}.
 */
export class TestCluster implements ClusterAccess {
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly admin: Credentials;
  /** etcd's client URL (plain HTTP on loopback). */
  readonly etcdUrl: string;
  /** The folder with the cluster's certificates, data and logs; removed by {@link TestCluster.stop}. */
  readonly dir: string;
  /** The CA that signs the serving and client certificates. */
  readonly ca: CertificateAuthority;
  /** Which control plane runs. */
  readonly controlPlane: ControlPlane;
  /** The names of the full plane's fake nodes; empty on the bare plane. */
  readonly nodeNames: readonly string[];
  readonly #binaries: Binaries;
  readonly #apiArgs: readonly string[];
  readonly #startTimeoutMs: number;
  #apiServer: ManagedProcess;
  readonly #etcd: ManagedProcess;
  readonly #components: readonly ManagedProcess[];
  #stopped = false;

  private constructor(init: {
    server: string;
    kubeconfigPath: string;
    admin: Credentials;
    etcdUrl: string;
    dir: string;
    ca: CertificateAuthority;
    binaries: Binaries;
    apiArgs: readonly string[];
    startTimeoutMs: number;
    apiServer: ManagedProcess;
    etcd: ManagedProcess;
    controlPlane: ControlPlane;
    nodeNames: readonly string[];
    components: readonly ManagedProcess[];
  }) {
    this.server = init.server;
    this.kubeconfigPath = init.kubeconfigPath;
    this.admin = init.admin;
    this.etcdUrl = init.etcdUrl;
    this.dir = init.dir;
    this.ca = init.ca;
    this.#binaries = init.binaries;
    this.#apiArgs = init.apiArgs;
    this.#startTimeoutMs = init.startTimeoutMs;
    this.#apiServer = init.apiServer;
    this.#etcd = init.etcd;
    this.controlPlane = init.controlPlane;
    this.nodeNames = init.nodeNames;
    this.#components = init.components;
  }

  /**
   * Starts etcd and kube-apiserver and resolves once the API server is ready; on the full plane, also once the other
   * components answer `/healthz`, the fake nodes are Ready and the `default` ServiceAccount exists.
   */
  static async start(options: TestClusterOptions = {}): Promise<TestCluster> {
    const controlPlane = options.controlPlane ?? "bare";
    const full = controlPlane === "full";
    const binaries = options.binaries ?? (await ensureBinaries({ controlPlane, log: options.log }));
    const timeout = options.startTimeoutMs ?? (full ? 180_000 : 120_000);
    const deadline = Date.now() + timeout;
    const dir = await mkdtemp(join(tmpdir(), "kindwatch-cluster-"));
    removeOnExit(dir);
    try {
      const pki = join(dir, "pki");
      await mkdir(pki);
      await mkdir(join(dir, "logs"));
      await mkdir(join(dir, "users"));
      const ca = CertificateAuthority.create();
      const serving = ca.issue({
        commonName: "kube-apiserver",
        usage: "server",
        hosts: ["127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "10.0.0.1"],
      });
      const adminPair = ca.issue({ commonName: "kindwatch-admin", organizations: ["system:masters"], usage: "client" });
      const sa = serviceAccountKeys();
      const files = {
        ca: join(pki, "ca.crt"),
        caKey: join(pki, "ca.key"),
        cert: join(pki, "apiserver.crt"),
        key: join(pki, "apiserver.key"),
        saKey: join(pki, "sa.key"),
        saPub: join(pki, "sa.pub"),
      };
      await writeFile(files.ca, ca.pair.certPem);
      await writeFile(files.caKey, ca.pair.keyPem, { mode: 0o600 });
      await writeFile(files.cert, serving.certPem);
      await writeFile(files.key, serving.keyPem, { mode: 0o600 });
      await writeFile(files.saKey, sa.privatePem, { mode: 0o600 });
      await writeFile(files.saPub, sa.publicPem);
      const admin: Credentials = { caPem: ca.pair.certPem, certPem: adminPair.certPem, keyPem: adminPair.keyPem };

      options.log?.("starting etcd");
      const { etcd, etcdUrl } = await TestCluster.#startEtcd(binaries, dir, options.etcdArgs ?? [], deadline);

      const apiArgs = (port: number) => [
        `--secure-port=${port}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${pki}`,
        `--tls-cert-file=${files.cert}`,
        `--tls-private-key-file=${files.key}`,
        `--client-ca-file=${files.ca}`,
        `--service-account-key-file=${files.saPub}`,
        `--service-account-signing-key-file=${files.saKey}`,
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        "--api-audiences=https://kubernetes.default.svc.cluster.local",
        "--authorization-mode=RBAC",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--allow-privileged=true",
        // No controller makes a namespace's `default` ServiceAccount on a bare plane, and this plugin rejects every Pod
        // that names none (it defaults to `default`) until one exists. The full plane's controllers make it.
        ...(full ? [] : ["--disable-admission-plugins=ServiceAccount"]),
        `--watch-cache=${options.watchCache ?? true}`,
        ...(options.apiServerArgs ?? []),
      ];
      let apiServer: ManagedProcess | undefined;
      let port = 0;
      for (let attempt = 1; !apiServer; attempt++) {
        port = await freePort();
        options.log?.(`starting kube-apiserver on https://127.0.0.1:${port}`);
        const proc = new ManagedProcess(
          "kube-apiserver",
          binaries.kubeApiServer,
          apiArgs(port),
          join(dir, "logs", "kube-apiserver.log"),
        );
        try {
          await TestCluster.#waitReady(`https://127.0.0.1:${port}`, admin, proc, deadline);
          apiServer = proc;
        } catch (err) {
          await proc.stop("SIGKILL");
          if (attempt >= 3 || !addressInUse.test(proc.tail)) {
            await etcd.stop("SIGKILL");
            throw err;
          }
        }
      }
      const server = `https://127.0.0.1:${port}`;
      const kubeconfigPath = options.kubeconfigPath ?? join(dir, "kubeconfig");
      await writeFile(kubeconfigPath, kubeconfigYaml({ server, credentials: admin, userName: "kindwatch-admin" }), {
        mode: 0o600,
      });
      let components: ManagedProcess[] = [];
      if (full) {
        try {
          components = await startFullPlane(
            { binaries, dir, server, ca, admin, files, deadline, log: options.log },
            options,
          );
        } catch (err) {
          await apiServer.stop("SIGKILL");
          await etcd.stop("SIGKILL");
          throw err;
        }
      }
      return new TestCluster({
        server,
        kubeconfigPath,
        admin,
        etcdUrl,
        dir,
        ca,
        binaries,
        apiArgs: apiArgs(port),
        startTimeoutMs: timeout,
        apiServer,
        etcd,
        controlPlane,
        nodeNames: full ? fakeNodeNames(options.nodes ?? 2) : [],
        components,
      });
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      releaseTempDir(dir);
      throw err;
    }
  }

  static async #startEtcd(binaries: Binaries, dir: string, extra: readonly string[], deadline: number) {
    for (let attempt = 1; ; attempt++) {
      const [client, peer] = [await freePort(), await freePort()];
      const etcdUrl = `http://127.0.0.1:${client}`;
      const peerUrl = `http://127.0.0.1:${peer}`;
      const etcd = new ManagedProcess(
        "etcd",
        binaries.etcd,
        [
          "--name=kindwatch",
          `--data-dir=${join(dir, "etcd")}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=kindwatch=${peerUrl}`,
          // Test data is thrown away with the cluster; fsync only slows every write.
          "--unsafe-no-fsync=true",
          "--log-level=warn",
          ...extra,
        ],
        join(dir, "logs", "etcd.log"),
      );
      try {
        await waitUntil(
          "etcd is healthy",
          async () => (await simpleRequest(`${etcdUrl}/health`, { timeoutMs: 2000 })).status === 200,
          etcd,
          deadline,
        );
        return { etcd, etcdUrl };
      } catch (err) {
        await etcd.stop("SIGKILL");
        await rm(join(dir, "etcd"), { recursive: true, force: true });
        if (attempt >= 3 || !addressInUse.test(etcd.tail)) throw err;
      }
    }
  }

  static async #waitReady(server: string, admin: Credentials, proc: ManagedProcess, deadline: number) {
    const ok = async (path: string) =>
      (await simpleRequest(`${server}${path}`, { credentials: admin, timeoutMs: 5000 })).status === 200;
    await waitUntil("kube-apiserver is ready (/readyz)", () => ok("/readyz"), proc, deadline);
    // The default namespace is made by a controller inside the API server shortly after it reports ready.
    await waitUntil("the default namespace exists", () => ok("/api/v1/namespaces/default"), proc, deadline);
  }

  /** The binaries this cluster runs. */
  get binaries(): Binaries {
    return this.#binaries;
  }

  /** Whether kube-apiserver is running now (false between {@link TestCluster.stopApiServer} and {@link TestCluster.startApiServer}). */
  get apiServerRunning(): boolean {
    return this.#apiServer.running;
  }

  /** Stops kube-apiserver only (SIGKILL by default: a crash); etcd and its data stay. */
  async stopApiServer(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await this.#apiServer.stop(signal);
  }

  /** Starts kube-apiserver again on the same port over the same etcd, and waits until it is ready. */
  async startApiServer(): Promise<void> {
    if (this.#apiServer.running) throw new Error("kube-apiserver is already running");
    const proc = new ManagedProcess(
      "kube-apiserver",
      this.#binaries.kubeApiServer,
      this.#apiArgs,
      join(this.dir, "logs", "kube-apiserver.log"),
    );
    this.#apiServer = proc;
    await TestCluster.#waitReady(this.server, this.admin, proc, Date.now() + this.#startTimeoutMs);
  }

  /** Kills kube-apiserver and starts it again on the same port and etcd data. */
  async restartApiServer(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await this.stopApiServer(signal);
    await this.startApiServer();
  }

  /** etcd's current revision. */
  async etcdRevision(): Promise<number> {
    const res = await simpleRequest(`${this.etcdUrl}/v3/maintenance/status`, { method: "POST", body: {} });
    const revision = Number((res.json as { header?: { revision?: string } } | undefined)?.header?.revision);
    if (res.status !== 200 || !Number.isFinite(revision))
      throw new Error(`etcd status failed: ${res.status} ${res.text}`);
    return revision;
  }

  /** Compacts etcd up to its current revision, so that older resourceVersions are gone; returns that revision. */
  async compact(): Promise<number> {
    const revision = await this.etcdRevision();
    const res = await simpleRequest(`${this.etcdUrl}/v3/kv/compaction`, {
      method: "POST",
      body: { revision: String(revision), physical: true },
    });
    if (res.status !== 200) throw new Error(`etcd compaction failed: ${res.status} ${res.text}`);
    return revision;
  }

  /** Mints a user authenticated by a client certificate signed by the cluster's CA. */
  async user(name: string, groups: readonly string[] = []): Promise<TestUser> {
    return certificateUser(this.ca, this.server, join(this.dir, "users"), name, groups);
  }

  /** Stops every process of the cluster and removes the cluster's folder. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    // The components first, so that none of them spends its last seconds retrying against a stopped API server.
    await Promise.all(this.#components.map((c) => c.stop("SIGTERM", 5000)));
    await this.#apiServer.stop("SIGTERM", 5000);
    await this.#etcd.stop("SIGTERM", 5000);
    await rm(this.dir, { recursive: true, force: true });
    releaseTempDir(this.dir);
  }
}

/** A user whose client certificate `ca` signs, with its kubeconfig written into `dir`. */
export async function certificateUser(
  ca: CertificateAuthority,
  server: string,
  dir: string,
  name: string,
  groups: readonly string[],
): Promise<TestUser> {
  const pair = ca.issue({ commonName: name, organizations: groups, usage: "client" });
  const credentials: Credentials = { caPem: ca.pair.certPem, certPem: pair.certPem, keyPem: pair.keyPem };
  const kubeconfig = kubeconfigYaml({ server, credentials, userName: name });
  const kubeconfigPath = join(dir, `${name.replace(/[^\w.-]/g, "_")}.kubeconfig`);
  await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });
  return {
    name,
    groups: [...groups],
    subject: { kind: "User", name, apiGroup: "rbac.authorization.k8s.io" },
    credentials,
    kubeconfig,
    kubeconfigPath,
  };
}
