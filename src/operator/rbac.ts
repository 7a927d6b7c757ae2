/**
 * The RBAC rules the operator needs, derived from what it watches and writes through the controller runtime, and no
 * more: the Helm chart's ClusterRole and Role (deploy/helm/kindwatch/) carry exactly these rules, and a test checks
 * that they do and that each verb is used and each missing one is refused.
 */

/** A `rbac.authorization.k8s.io/v1` PolicyRule. */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  /** Only these objects (never for create or list: those have no name to check). */
  readonly resourceNames?: readonly string[];
  readonly verbs: readonly string[];
}

/** The Lease the operator's replicas elect a leader on (`kindwatch operator --leader-elect`). */
export const operatorLeaseName = "kindwatch-operator";

/** The operator's cluster-wide rules (its ClusterRole): it watches and writes in every namespace. */
export const operatorRules: readonly PolicyRule[] = [
  {
    // Informers list and watch the three kinds; withFinalizer and setStatus read the object afresh after a Conflict
    // (get) and add or remove the gateway finalizer with a resourceVersion-locked merge patch (patch). Never an update.
    apiGroups: ["ai.kindwatch.dev"],
    resources: ["aimodelbindings", "aimodeldeployments", "llminvocationprofiles"],
    verbs: ["get", "list", "patch", "watch"],
  },
  {
    // setStatus writes conditions, observedGeneration and what is live as a merge patch of the status subresource.
    apiGroups: ["ai.kindwatch.dev"],
    resources: ["aimodelbindings/status", "aimodeldeployments/status", "llminvocationprofiles/status"],
    verbs: ["patch"],
  },
  {
    // The Deployment and Service of an AIModelDeployment carry a controller owner reference with blockOwnerDeletion;
    // where the OwnerReferencesPermissionEnforcement admission plugin is on, setting it needs update on the owner's
    // finalizers subresource.
    apiGroups: ["ai.kindwatch.dev"],
    resources: ["aimodeldeployments/finalizers"],
    verbs: ["update"],
  },
  {
    // The deployments controller owns them: an informer (list, watch) and server-side apply (patch; an apply that
    // makes the object is authorized as create too). The garbage collector deletes them through the owner reference,
    // so no delete; without it, OwnerReferencesPermissionEnforcement also refuses to adopt an object someone else made.
    apiGroups: ["apps"],
    resources: ["deployments"],
    verbs: ["create", "list", "patch", "watch"],
  },
  {
    // As Deployments; bindings also watch Services to re-queue those that point at one.
    apiGroups: [""],
    resources: ["services"],
    verbs: ["create", "list", "patch", "watch"],
  },
  {
    // API keys are read through the controllers' Secret cache only (an informer), never with a GET.
    apiGroups: [""],
    resources: ["secrets"],
    verbs: ["list", "watch"],
  },
  {
    // The EventRecorder creates an events.k8s.io/v1 Event in the regarding object's namespace and merge-patches the
    // series count of repeats.
    apiGroups: ["events.k8s.io"],
    resources: ["events"],
    verbs: ["create", "patch"],
  },
];

/**
 * The operator's rules in its lease namespace only (a Role there): the LeaderElector creates its Lease, then reads and
 * updates that one only. Cluster-wide, or without the name, they would let it take over another component's Lease.
 */
export const operatorLeaseRules: readonly PolicyRule[] = [
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["create"],
  },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    resourceNames: [operatorLeaseName],
    verbs: ["get", "update"],
  },
];

/** The gateway's rules: none. It reads its admin token from a mounted file and never calls the API server. */
export const gatewayRules: readonly PolicyRule[] = [];
