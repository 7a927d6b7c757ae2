/**
 * What a CustomResourceDefinition serves, read from the CRD itself: the engine can start watching a kind the moment
 * its CRD is Established, without waiting for discovery to catch up.
 */
import type { ApiResource } from "../discovery/types.js";
import type { KubeObject } from "../object/types.js";

const kubeVersion = /^v(\d+)(?:(alpha|beta)(\d+))?$/;

/**
 * Orders versions as the API server does (`CompareKubeAwareVersionStrings`): GA before beta before alpha, higher
 * numbers first, then anything else alphabetically. Negative when `a` comes first.
 */
export function compareKubeVersions(a: string, b: string): number {
  const ma = kubeVersion.exec(a);
  const mb = kubeVersion.exec(b);
  if (!ma || !mb) return ma ? -1 : mb ? 1 : a.localeCompare(b);
  const stage = (m: RegExpExecArray) => (m[2] === undefined ? 2 : m[2] === "beta" ? 1 : 0);
  return stage(mb) - stage(ma) || Number(mb[1]) - Number(ma[1]) || Number(mb[3] ?? 0) - Number(ma[3] ?? 0);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** Whether the CRD's `Established` condition is True: its API is being served. */
export function isEstablished(crd: KubeObject): boolean {
  const conditions = record(crd.status).conditions;
  return (
    Array.isArray(conditions) && conditions.some((c) => record(c).type === "Established" && record(c).status === "True")
  );
}

/** The resource a CRD serves at its preferred version, or undefined when it serves none (or is not Established). */
export function crdResource(crd: KubeObject): ApiResource | undefined {
  if (!isEstablished(crd)) return undefined;
  const spec = record(crd.spec);
  const names = record(spec.names);
  const group = typeof spec.group === "string" ? spec.group : "";
  const plural = typeof names.plural === "string" ? names.plural : "";
  const kind = typeof names.kind === "string" ? names.kind : "";
  const versions = (Array.isArray(spec.versions) ? spec.versions : []).map(record);
  const served = versions.filter((v) => v.served === true && typeof v.name === "string");
  const preferred = served.map((v) => v.name as string).sort(compareKubeVersions)[0];
  if (!group || !plural || !kind || !preferred) return undefined;
  const subresources = record(served.find((v) => v.name === preferred)?.subresources);
  return {
    group,
    version: preferred,
    resource: plural,
    kind,
    singular: typeof names.singular === "string" && names.singular ? names.singular : kind.toLowerCase(),
    namespaced: spec.scope !== "Cluster",
    verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
    shortNames: strings(names.shortNames),
    categories: strings(names.categories),
    subresources: [
      ...("status" in subresources
        ? [{ name: "status", group, version: preferred, kind, verbs: ["get", "patch", "update"] }]
        : []),
      ...("scale" in subresources
        ? [{ name: "scale", group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] }]
        : []),
    ],
    preferred: true,
  };
}
