/** Cluster-wide RBAC grants for tests that run as a user of their own. */
import type { GroupVersionResource } from "../../src/client/gvr.js";
import type { DynamicClient } from "../../src/client/resource.js";
import type { KubeObject } from "../../src/object/types.js";

const rbac = "rbac.authorization.k8s.io";
const clusterRoles: GroupVersionResource = { group: rbac, version: "v1", resource: "clusterroles" };
const clusterRoleBindings: GroupVersionResource = { ...clusterRoles, resource: "clusterrolebindings" };

/** Lets `subject` do what `rules` say, cluster-wide: a ClusterRole and a ClusterRoleBinding, both named `name`. */
export async function grantClusterRole(
  client: DynamicClient,
  name: string,
  subject: unknown,
  rules: readonly unknown[],
): Promise<void> {
  await client
    .resource(clusterRoles)
    .create({ apiVersion: `${rbac}/v1`, kind: "ClusterRole", metadata: { name }, rules } as KubeObject);
  await client.resource(clusterRoleBindings).create({
    apiVersion: `${rbac}/v1`,
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: { apiGroup: rbac, kind: "ClusterRole", name },
    subjects: [subject],
  } as KubeObject);
}

/** Takes back what {@link grantClusterRole} gave, whatever of it exists. */
export async function revokeClusterRole(client: DynamicClient, name: string): Promise<void> {
  await client
    .resource(clusterRoleBindings)
    .delete(name)
    .catch(() => {});
  await client
    .resource(clusterRoles)
    .delete(name)
    .catch(() => {});
}
