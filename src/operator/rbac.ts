/**
 * The RBAC rules the operator needs, derived from what it watches and writes: its ClusterRole holds exactly these (the
 * deployment's manifests and Helm chart render them).
 */
import { aiGroup } from "./types.js";

/** One rule of a ClusterRole. */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

/** Every rule of the operator's ClusterRole. */
export const operatorRules: readonly PolicyRule[] = [
  // The three kinds: read through informers, finalizers added and removed by merge patch.
  {
    apiGroups: [aiGroup],
    resources: ["aimodeldeployments", "aimodelbindings", "llminvocationprofiles"],
    verbs: ["get", "list", "watch", "patch"],
  },
  // Status through the subresource, by merge patch.
  {
    apiGroups: [aiGroup],
    resources: ["aimodeldeployments/status", "aimodelbindings/status", "llminvocationprofiles/status"],
    verbs: ["patch"],
  },
  // Owner references with blockOwnerDeletion on what an AIModelDeployment owns need this.
  { apiGroups: [aiGroup], resources: ["aimodeldeployments/finalizers"], verbs: ["update"] },
  // The workloads of AIModelDeployments: server-side applied, watched for their readiness.
  { apiGroups: ["apps"], resources: ["deployments"], verbs: ["get", "list", "watch", "patch"] },
  { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch", "patch"] },
  // API keys: read through an informer only (never a GET of one Secret).
  { apiGroups: [""], resources: ["secrets"], verbs: ["list", "watch"] },
  // Warning Events about Degraded objects, their repeats as a series.
  { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
  // Leader election.
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get", "create", "update"] },
];
