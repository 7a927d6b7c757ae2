/**
 * What a CustomResourceDefinition serves, read from the CRD itself: the engine can start watching a kind the moment
 * its CRD is Established, without waiting for discovery to catch up.
 */
import type { ApiResource } from "../discovery/types.js";
import { asMap, isMap } from "../object/narrow.js";
import type { KubeObject } from "../object/types.js";

const kubeVersion = /^v(\d+)(?:(alpha|beta)(\d+))?$/;
const maxInt64 = 2n ** 63n - 1n;

/** Go's `parseKubeVersion`: major, stage (GA 2, beta 1, alpha 0) and minor; undefined when not kube-like. */
function parseKubeVersion(v: string): { major: bigint; stage: number; minor: bigint } | undefined {
  const m = kubeVersion.exec(v);
  if (!m) return undefined;
  // strconv.Atoi fails beyond int64, and the version then counts as not kube-like.
  const major = BigInt(m[1] as string);
  const minor = BigInt(m[3] ?? "0");
  if (major > maxInt64 || minor > maxInt64) return undefined;
  return { major, stage: m[2] === undefined ? 2 : m[2] === "beta" ? 1 : 0, minor };
}

function sign(n: bigint | number): number {
  return n > 0 ? 1 : n < 0 ? -1 : 0;
}

/**
 * Orders versions as the API server does (apimachinery's `CompareKubeAwareVersionStrings`): kube-like versions
 * (`v2`, `v1beta1`) first, GA before beta before alpha whatever the major (`v1` before `v10beta3` before `v11alpha2`),
 * then by major, then minor, highest first; anything else after them, in byte order. Negative when `a` comes first.
 */
export function compareKubeVersions(a: string, b: string): number {
  if (a === b) return 0;
  const pa = parseKubeVersion(a);
  const pb = parseKubeVersion(b);
  if (!pa || !pb) {
    if (pa) return -1;
    if (pb) return 1;
    return a < b ? -1 : 1;
  }
  return sign(pb.stage - pa.stage) || sign(pb.major - pa.major) || sign(pb.minor - pa.minor);
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

/** Whether the CRD's `Established` condition is True: its API is being served. */
export function isEstablished(crd: KubeObject): boolean {
  const conditions = asMap(crd.status)?.conditions;
  return (
    Array.isArray(conditions) && conditions.some((c) => isMap(c) && c.type === "Established" && c.status === "True")
  );
}

/** The resource a CRD serves at its preferred version, or undefined when it serves none (or is not Established). */
export function crdResource(crd: KubeObject): ApiResource | undefined {
  if (!isEstablished(crd)) return undefined;
  const spec = asMap(crd.spec) ?? {};
  const names = asMap(spec.names) ?? {};
  const group = typeof spec.group === "string" ? spec.group : "";
  const plural = typeof names.plural === "string" ? names.plural : "";
  const kind = typeof names.kind === "string" ? names.kind : "";
  const versions = (Array.isArray(spec.versions) ? spec.versions : []).filter(isMap);
  const served = versions.filter((v) => v.served === true && typeof v.name === "string");
  const preferred = served.map((v) => v.name as string).sort(compareKubeVersions)[0];
  if (!group || !plural || !kind || !preferred) return undefined;
  const subresources = asMap(served.find((v) => v.name === preferred)?.subresources) ?? {};
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

/**
 * What {@link crdResource} and {@link isEstablished} read of a CRD, and what an informer needs to follow it (name, uid,
 * resourceVersion): the engine's CRD informer keeps this instead of the whole CRD, whose schemas are most of its size
 * (tens of KB for many operators' kinds, and one per watched kind).
 */
export function crdEssentials(crd: KubeObject): KubeObject {
  const spec = asMap(crd.spec) ?? {};
  const versions = (Array.isArray(spec.versions) ? spec.versions : [])
    .filter(isMap)
    .map((v) => ({ name: v.name, served: v.served, subresources: v.subresources }));
  const conditions = asMap(crd.status)?.conditions;
  const established = (Array.isArray(conditions) ? conditions : [])
    .filter(isMap)
    .filter((c) => c.type === "Established")
    .map((c) => ({ type: c.type, status: c.status }));
  const { name, uid, resourceVersion } = crd.metadata ?? {};
  return {
    apiVersion: crd.apiVersion,
    kind: crd.kind,
    metadata: { name, uid, resourceVersion },
    spec: { group: spec.group, names: spec.names, scope: spec.scope, versions },
    status: { conditions: established },
  };
}
