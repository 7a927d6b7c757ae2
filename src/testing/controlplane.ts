/**
 * The full control plane's extra parts next to kube-apiserver: kube-controller-manager, kube-scheduler and KWOK with
 * fake nodes, each on loopback with a client certificate and an RBAC identity of its own.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { type Binaries, kwokModuleDir } from "./binaries.js";
import type { CertificateAuthority } from "./certs.js";
import { kubeconfigYaml } from "./kubeconfig.js";
import { freePort } from "./ports.js";
import { ManagedProcess } from "./process.js";
import { type Credentials, simpleRequest } from "./request.js";

/** What the fake nodes of the full control plane look like and how fast their pods start. */
export interface FakeNodesOptions {
  /** How many nodes; default 2. */
  readonly nodes?: number | undefined;
  /** Each node's capacity (and allocatable); default {@link DEFAULT_NODE_CAPACITY}. */
  readonly nodeCapacity?: Readonly<Record<string, string>> | undefined;
  /** How long a scheduled pod stays `Pending` before KWOK makes it `Running` and `Ready`; default 0. */
  readonly podReadyDelayMs?: number | undefined;
}

/** The capacity of each fake node unless told otherwise: room for GPU requests too. */
export const DEFAULT_NODE_CAPACITY: Readonly<Record<string, string>> = {
  cpu: "8",
  memory: "32Gi",
  pods: "110",
  "nvidia.com/gpu": "4",
};

/** The annotation by which KWOK knows the nodes it simulates. */
const fakeNodeAnnotation = "kwok.x-k8s.io/node";
/** The label of the harness's fake nodes. */
const FAKE_NODE_LABEL = "kindwatch.dev/fake-node";

/** What the full plane needs from the cluster that kube-apiserver and etcd already make up. */
export interface PlaneContext {
  readonly binaries: Binaries;
  readonly dir: string;
  readonly server: string;
  readonly ca: CertificateAuthority;
  readonly admin: Credentials;
  readonly files: { readonly ca: string; readonly caKey: string; readonly saKey: string };
  readonly deadline: number;
  readonly log?: ((line: string) => void) | undefined;
}

const addressInUse = /address already in use/i;

async function sleep(ms: number) {
  await new Promise((r) => setTimeout(r, ms));
}

async function call(ctx: PlaneContext, method: string, path: string, body: unknown, ok: readonly number[]) {
  const res = await simpleRequest(`${ctx.server}${path}`, { method, body, credentials: ctx.admin });
  if (!ok.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
  return res.json;
}

/** Polls `check` until it holds; fails early when one of `procs` dies, and at the deadline with what each said. */
async function waitAll(
  what: string,
  check: () => Promise<boolean>,
  procs: readonly ManagedProcess[],
  deadline: number,
) {
  for (;;) {
    const dead = procs.find((p) => !p.running);
    if (dead) throw new Error(`${dead.name} exited before ${what}:\n${dead.tail}`);
    try {
      if (await check()) return;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; ${procs.map((p) => `${p.name} said:\n${p.tail}`).join("\n")}`);
    }
    await sleep(200);
  }
}

/**
 * Starts a component on a free port and waits for its `/healthz`; tries another port when the one it got was taken in
 * the meantime.
 */
async function startComponent(
  ctx: PlaneContext,
  name: string,
  command: string,
  args: (port: number) => string[],
  healthz: (port: number) => { url: string; credentials?: Credentials },
  env?: NodeJS.ProcessEnv,
): Promise<ManagedProcess> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    ctx.log?.(`starting ${name} on 127.0.0.1:${port}`);
    const proc = new ManagedProcess(name, command, args(port), join(ctx.dir, "logs", `${name}.log`), env);
    const probe = healthz(port);
    try {
      await waitAll(
        `${name} is healthy (/healthz)`,
        async () =>
          (await simpleRequest(probe.url, { credentials: probe.credentials, timeoutMs: 2000 })).status === 200,
        [proc],
        ctx.deadline,
      );
      return proc;
    } catch (err) {
      await proc.stop("SIGKILL");
      if (attempt >= 3 || !addressInUse.test(proc.tail)) throw err;
    }
  }
}

interface Identity {
  readonly kubeconfig: string;
  readonly cert: string;
  readonly key: string;
}

/** A client certificate for `user`, its kubeconfig, and a serving certificate for loopback. */
async function identity(ctx: PlaneContext, component: string, user: string): Promise<Identity> {
  const dir = join(ctx.dir, "components", component);
  await mkdir(dir, { recursive: true });
  const client = ctx.ca.issue({ commonName: user, usage: "client" });
  const serving = ctx.ca.issue({ commonName: component, usage: "server", hosts: ["127.0.0.1", "localhost"] });
  const kubeconfig = join(dir, "kubeconfig");
  const credentials = { caPem: ctx.ca.pair.certPem, certPem: client.certPem, keyPem: client.keyPem };
  await writeFile(kubeconfig, kubeconfigYaml({ server: ctx.server, credentials, userName: user }), { mode: 0o600 });
  const cert = join(dir, "serving.crt");
  const key = join(dir, "serving.key");
  await writeFile(cert, serving.certPem);
  await writeFile(key, serving.keyPem, { mode: 0o600 });
  return { kubeconfig, cert, key };
}

/** KWOK's Stages as its kwokctl runs them, with pods made Ready `podReadyDelayMs` after they are scheduled. */
async function kwokStages(podReadyDelayMs: number): Promise<string> {
  const docs = parseAllDocuments(await readFile(join(kwokModuleDir, "stages.yaml"), "utf8"));
  return docs
    .map((doc) => {
      const stage = doc.toJS() as { metadata: { name: string }; spec: Record<string, unknown> };
      if (stage.metadata.name === "pod-ready" && podReadyDelayMs > 0) {
        stage.spec.delay = { durationMilliseconds: podReadyDelayMs };
      }
      return stringify(stage);
    })
    .join("---\n");
}

/** The rules of KWOK's own ClusterRole (kustomize/rbac/role.yaml of its release), minus its own CRDs. */
const kwokRules = [
  { apiGroups: [""], resources: ["events"], verbs: ["create", "delete", "get", "list", "patch", "update", "watch"] },
  { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
  { apiGroups: [""], resources: ["nodes/status", "pods/status"], verbs: ["patch", "update"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["delete", "get", "list", "patch", "update", "watch"] },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["create", "get", "list", "patch", "update", "watch"],
  },
];

const kwokUser = "kindwatch:kwok";

async function grantKwok(ctx: PlaneContext) {
  const rbac = "/apis/rbac.authorization.k8s.io/v1";
  await call(ctx, "POST", `${rbac}/clusterroles`, { metadata: { name: kwokUser }, rules: kwokRules }, [201, 409]);
  await call(
    ctx,
    "POST",
    `${rbac}/clusterrolebindings`,
    {
      metadata: { name: kwokUser },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: kwokUser },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: kwokUser }],
    },
    [201, 409],
  );
}

/** The names of the fake nodes a cluster with `count` nodes has. */
export function fakeNodeNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `kwok-node-${i}`);
}

async function createNodes(ctx: PlaneContext, names: readonly string[], capacity: Readonly<Record<string, string>>) {
  for (const [i, name] of names.entries()) {
    await call(
      ctx,
      "POST",
      "/api/v1/nodes",
      {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name,
          annotations: { [fakeNodeAnnotation]: "fake" },
          labels: {
            [FAKE_NODE_LABEL]: "true",
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            type: "kwok",
          },
        },
        status: {
          capacity,
          allocatable: capacity,
          addresses: [
            { type: "InternalIP", address: `10.1.0.${i + 1}` },
            { type: "Hostname", address: name },
          ],
        },
      },
      [201, 409],
    );
  }
}

interface NodeView {
  metadata?: { name?: string };
  spec?: { taints?: { key?: string }[] };
  status?: { conditions?: { type?: string; status?: string }[] };
}

/** Whether every one of `names` is Ready and no longer carries the taint new nodes get until they are. */
async function nodesSchedulable(ctx: PlaneContext, names: readonly string[]): Promise<boolean> {
  const list = (await call(ctx, "GET", `/api/v1/nodes?labelSelector=${FAKE_NODE_LABEL}`, undefined, [200])) as {
    items?: NodeView[];
  };
  const byName = new Map((list.items ?? []).map((n) => [n.metadata?.name, n]));
  return names.every((name) => {
    const node = byName.get(name);
    const ready = node?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
    const tainted = node?.spec?.taints?.some((t) => t.key === "node.kubernetes.io/not-ready") ?? false;
    return ready && !tainted;
  });
}

/**
 * Starts kube-controller-manager, kube-scheduler and KWOK and creates the fake nodes; resolves once all three answer
 * `/healthz`, the nodes are Ready and schedulable, and the `default` ServiceAccount exists. On failure, whatever it
 * started is stopped again.
 */
export async function startFullPlane(ctx: PlaneContext, options: FakeNodesOptions): Promise<ManagedProcess[]> {
  const { kubeControllerManager, kubeScheduler, kwok } = ctx.binaries;
  if (!kubeControllerManager || !kubeScheduler || !kwok) {
    throw new Error("the full control plane needs kube-controller-manager, kube-scheduler and kwok binaries");
  }
  const nodeNames = fakeNodeNames(options.nodes ?? 2);
  const [kcm, scheduler, kwokId] = await Promise.all([
    identity(ctx, "kube-controller-manager", "system:kube-controller-manager"),
    identity(ctx, "kube-scheduler", "system:kube-scheduler"),
    identity(ctx, "kwok", kwokUser),
  ]);
  await grantKwok(ctx);
  await createNodes(ctx, nodeNames, options.nodeCapacity ?? DEFAULT_NODE_CAPACITY);

  const schedulerConfig = join(ctx.dir, "components", "kube-scheduler", "config.yaml");
  await writeFile(
    schedulerConfig,
    stringify({
      apiVersion: "kubescheduler.config.k8s.io/v1",
      kind: "KubeSchedulerConfiguration",
      clientConnection: { kubeconfig: scheduler.kubeconfig },
      leaderElection: { leaderElect: false },
    }),
  );
  const kwokDir = join(ctx.dir, "components", "kwok");
  const kwokConfig = join(kwokDir, "kwok.yaml");
  await writeFile(kwokConfig, await kwokStages(options.podReadyDelayMs ?? 0));

  const https = (port: number) => ({
    url: `https://127.0.0.1:${port}/healthz`,
    credentials: { caPem: ctx.ca.pair.certPem },
  });
  const started = await Promise.allSettled([
    startComponent(
      ctx,
      "kube-controller-manager",
      kubeControllerManager,
      (port) => [
        `--kubeconfig=${kcm.kubeconfig}`,
        `--secure-port=${port}`,
        "--bind-address=127.0.0.1",
        `--tls-cert-file=${kcm.cert}`,
        `--tls-private-key-file=${kcm.key}`,
        // Each controller acts as its own ServiceAccount, with the system:controller:* role the bootstrap RBAC gives it.
        "--use-service-account-credentials=true",
        `--service-account-private-key-file=${ctx.files.saKey}`,
        `--root-ca-file=${ctx.files.ca}`,
        `--cluster-signing-cert-file=${ctx.files.ca}`,
        `--cluster-signing-key-file=${ctx.files.caKey}`,
        "--controllers=*",
        // KWOK's fake nodes never die unless a test says so; on two busy cores their lease renewals can come later
        // than the default 50 s grace, and the node lifecycle controller then marks every Pod on them NotReady
        // (Ready False, ContainersReady True), which KWOK never undoes: Deployments lose their ready replicas for good.
        "--node-monitor-grace-period=10m",
        "--node-startup-grace-period=10m",
        "--leader-elect=false",
        "--cluster-name=kindwatch",
        "--service-cluster-ip-range=10.0.0.0/24",
      ],
      https,
    ),
    startComponent(
      ctx,
      "kube-scheduler",
      kubeScheduler,
      (port) => [
        `--config=${schedulerConfig}`,
        `--secure-port=${port}`,
        "--bind-address=127.0.0.1",
        `--tls-cert-file=${scheduler.cert}`,
        `--tls-private-key-file=${scheduler.key}`,
      ],
      https,
    ),
    startComponent(
      ctx,
      "kwok",
      kwok,
      (port) => [
        `--kubeconfig=${kwokId.kubeconfig}`,
        `--config=${kwokConfig}`,
        `--manage-nodes-with-annotation-selector=${fakeNodeAnnotation}=fake`,
        `--server-address=127.0.0.1:${port}`,
        "--cidr=10.244.0.0/16",
      ],
      (port) => ({ url: `http://127.0.0.1:${port}/healthz` }),
      // KWOK also reads ~/.kwok/kwok.yaml when there is one: a home of its own keeps the user's out.
      { ...process.env, HOME: kwokDir },
    ),
  ]);
  const components = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  try {
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw failed.reason;
    ctx.log?.("kube-controller-manager, kube-scheduler and KWOK are healthy");
    await waitAll(
      `the ${nodeNames.length} fake nodes are Ready`,
      () => nodesSchedulable(ctx, nodeNames),
      components,
      ctx.deadline,
    );
    ctx.log?.(`${nodeNames.length} fake nodes are Ready`);
    await waitAll(
      "the default ServiceAccount exists",
      async () =>
        (
          await simpleRequest(`${ctx.server}/api/v1/namespaces/default/serviceaccounts/default`, {
            credentials: ctx.admin,
          })
        ).status === 200,
      components,
      ctx.deadline,
    );
    return components;
  } catch (err) {
    await Promise.all(components.map((c) => c.stop("SIGKILL")));
    throw err;
  }
}
