/**
 * Using a cluster that another process started: the shared cluster of a test run (through a state file), or any
 * cluster a kubeconfig points at (`KINDWATCH_TEST_KUBECONFIG`).
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CertificateAuthority } from "./certs.js";
import { type ClusterAccess, certificateUser, type TestCluster, type TestUser } from "./cluster.js";
import { kubeconfigYaml, readKubeconfigCredentials } from "./kubeconfig.js";
import { removeOnExit } from "./process.js";
import { type Credentials, simpleRequest } from "./request.js";

/** What a harness-started cluster tells other processes about itself. */
export interface ClusterState {
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly caCertPath: string;
  readonly caKeyPath: string;
  readonly usersDir: string;
  /** The process that owns the cluster (to stop it, send it SIGTERM). */
  readonly pid: number;
}

/** Writes `cluster`'s state file, so that other processes can {@link attachCluster} to it. */
export async function writeClusterState(cluster: TestCluster, path: string, pid = process.pid): Promise<ClusterState> {
  const state: ClusterState = {
    server: cluster.server,
    kubeconfigPath: cluster.kubeconfigPath,
    caCertPath: join(cluster.dir, "pki", "ca.crt"),
    caKeyPath: join(cluster.dir, "pki", "ca.key"),
    usersDir: join(cluster.dir, "users"),
    pid,
  };
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  return state;
}

/** Attaches to a cluster described by a state file written by {@link writeClusterState}. */
export async function attachState(path: string): Promise<ClusterAccess> {
  const state = JSON.parse(await readFile(path, "utf8")) as ClusterState;
  const ca = CertificateAuthority.load({
    certPem: await readFile(state.caCertPath, "utf8"),
    keyPem: await readFile(state.caKeyPath, "utf8"),
  });
  const { credentials } = readKubeconfigCredentials(state.kubeconfigPath);
  return {
    server: state.server,
    kubeconfigPath: state.kubeconfigPath,
    admin: credentials,
    user: (name, groups = []) => certificateUser(ca, state.server, state.usersDir, name, groups),
  };
}

const usersNamespace = "kindwatch-test-users";

/**
 * Attaches to any cluster through an admin kubeconfig. Without the cluster's CA key, users are service accounts with
 * tokens from the TokenRequest API; they cannot carry extra groups.
 */
export async function attachKubeconfig(kubeconfigPath: string): Promise<ClusterAccess> {
  const { server, credentials: admin } = readKubeconfigCredentials(kubeconfigPath);
  const usersDir = await mkdtemp(join(tmpdir(), "kindwatch-users-"));
  removeOnExit(usersDir);
  const call = async (method: string, path: string, body: unknown, ok: number[]) => {
    const res = await simpleRequest(`${server}${path}`, { method, body, credentials: admin });
    if (!ok.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
    return res.json;
  };
  const user = async (name: string, groups: readonly string[] = []): Promise<TestUser> => {
    if (groups.length > 0) {
      throw new Error(`user ${name}: groups need a cluster whose CA the harness holds; this one is only a kubeconfig`);
    }
    await call("POST", "/api/v1/namespaces", { metadata: { name: usersNamespace } }, [201, 409]);
    await call("POST", `/api/v1/namespaces/${usersNamespace}/serviceaccounts`, { metadata: { name } }, [201, 409]);
    const review = (await call(
      "POST",
      `/api/v1/namespaces/${usersNamespace}/serviceaccounts/${name}/token`,
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds: 3600 } },
      [200, 201],
    )) as { status?: { token?: string } };
    const token = review.status?.token;
    if (!token) throw new Error(`TokenRequest for ${name} returned no token`);
    const credentials: Credentials = { caPem: admin.caPem || undefined, token };
    const kubeconfig = kubeconfigYaml({ server, credentials, userName: name });
    const kubeconfigPath = join(usersDir, `${name}.kubeconfig`);
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });
    return {
      name: `system:serviceaccount:${usersNamespace}:${name}`,
      groups: [],
      subject: { kind: "ServiceAccount", name, namespace: usersNamespace },
      credentials,
      kubeconfig,
      kubeconfigPath,
    };
  };
  return { server, kubeconfigPath, admin, user };
}

/**
 * The cluster a test should use: `KINDWATCH_TEST_CLUSTER` (a state file, set by kindwatch's test runner) or
 * `KINDWATCH_TEST_KUBECONFIG` (any cluster). Throws with what to do when neither is set.
 */
export async function attachCluster(env: NodeJS.ProcessEnv = process.env): Promise<ClusterAccess> {
  if (env.KINDWATCH_TEST_CLUSTER) return attachState(env.KINDWATCH_TEST_CLUSTER);
  if (env.KINDWATCH_TEST_KUBECONFIG) return attachKubeconfig(env.KINDWATCH_TEST_KUBECONFIG);
  throw new Error(
    "no test cluster: run the tests with 'npm test' (it starts one), or set KINDWATCH_TEST_KUBECONFIG to an admin kubeconfig",
  );
}
