/** Names the operator gives to what it makes: gateway objects, labels, its finalizer and its field manager. */

/** Every server-side apply and status write of the operator uses this field manager. */
export const operatorFieldManager = "kindwatch-operator";

/** Held on an object until its gateway route, key set or profile is gone. */
export const gatewayFinalizer = "ai.kindwatch.dev/gateway";

/** Nodes of a hardware class carry this label; a model's Pods select it. */
export const hardwareClassLabel = "ai.kindwatch.dev/hardware-class";

/** Labels of the Deployment, Service and Pods of an AIModelDeployment. */
export function workloadLabels(name: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": name,
    "app.kubernetes.io/component": "model",
    "app.kubernetes.io/managed-by": "kindwatch-operator",
    "ai.kindwatch.dev/model-deployment": name,
  };
}

/**
 * A gateway object's name for a custom resource: `amd.NS.NAME`, `amb.NS.NAME` or `llmp.NS.NAME` (namespaces have no
 * dots, so no two objects share a name). Routes of a binding add their index: `amb.NS.NAME.0`.
 */
export function gatewayName(kind: "amd" | "amb" | "llmp", namespace: string, name: string): string {
  return `${kind}.${namespace}.${name}`;
}
