/**
 * Acting as a ServiceAccount on a test cluster: a token from the TokenRequest API (bound to the ServiceAccount, as the
 * kubelet projects one into a Pod) and a kubeconfig that carries it, so that a process holds exactly the rights RBAC
 * grants the ServiceAccount.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ClusterAccess, kubeconfigYaml, simpleRequest } from "../../src/testing/index.js";
import { processTempDir } from "./tempdir.js";
import { uniqueName } from "./wait.js";

/** A ServiceAccount's token and a kubeconfig file with it. */
export interface ServiceAccountKubeconfig {
  readonly token: string;
  /** `system:serviceaccount:NAMESPACE:NAME`: the user RBAC sees. */
  readonly username: string;
  readonly kubeconfig: string;
  /** The kubeconfig, in a file removed when the test process exits. */
  readonly kubeconfigPath: string;
}

/**
 * Asks the TokenRequest API (`POST .../serviceaccounts/SA/token`, as admin) for a token of `namespace/serviceAccount`
 * valid for `expirationSeconds` (default one hour), and writes a kubeconfig that authenticates with it.
 */
export async function serviceAccountKubeconfig(
  cluster: ClusterAccess,
  namespace: string,
  serviceAccount: string,
  expirationSeconds = 3600,
): Promise<ServiceAccountKubeconfig> {
  const url = `${cluster.server}/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`;
  const res = await simpleRequest(url, {
    method: "POST",
    credentials: cluster.admin,
    body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", spec: { expirationSeconds } },
  });
  const token = (res.json as { status?: { token?: unknown } } | undefined)?.status?.token;
  if (res.status !== 201 || typeof token !== "string" || token === "") {
    throw new Error(`TokenRequest for ${namespace}/${serviceAccount} failed: HTTP ${res.status}: ${res.text}`);
  }
  const username = `system:serviceaccount:${namespace}:${serviceAccount}`;
  const kubeconfig = kubeconfigYaml({
    server: cluster.server,
    credentials: { caPem: cluster.admin.caPem, token },
    userName: username,
    namespace,
  });
  const kubeconfigPath = join(processTempDir("kindwatch-sa"), `${uniqueName(serviceAccount)}.kubeconfig`);
  await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });
  return { token, username, kubeconfig, kubeconfigPath };
}
