/**
 * The least RBAC a watch-all engine needs for a selection of kinds, read-only: list and watch on the kinds it will
 * watch (it never GETs one object), and what the engine itself asks of the server whatever the selection.
 */
import { preferredResources } from "../discovery/snapshot-mapper.js";
import type { ApiResource, DiscoveryResult } from "../discovery/types.js";
import { isWanted, type KindSelection, objectScope } from "./filter.js";

/** A `rbac.authorization.k8s.io/v1` PolicyRule: on resources of API groups, or on non-resource URLs. */
export interface RbacRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
  readonly verbs: readonly string[];
}

/** What the rules are computed for: the engine options that choose kinds and namespaces, and its access reviews. */
export interface RulesSelection extends KindSelection {
  /** As {@link WatchAllOptions.accessReview}: default true, and then the engine needs to create reviews. */
  readonly accessReview?: boolean | undefined;
}

/** The rules of {@link watchAllRules}: cluster-wide ones, and those of the one namespace the selection watches. */
export interface WatchAllRules {
  /** For a ClusterRole: discovery, the CRD and APIService watches, access reviews, and the kinds watched cluster-wide. */
  readonly cluster: readonly RbacRule[];
  /** When the selection includes exactly one namespace: its kinds are watched there only, so a Role there suffices. */
  readonly namespace?: { readonly name: string; readonly rules: readonly RbacRule[] };
}

/** The engine's informers list, then watch; nothing reads single objects. */
const kindVerbs = ["list", "watch"];

/**
 * The engine always follows CRDs (a kind starts, moves version or goes as its CRD changes) and APIServices (discovery
 * is refreshed when one changes); forbidden, each would be retried with backoff forever.
 */
const metaRules: readonly RbacRule[] = [
  { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: kindVerbs },
  { apiGroups: ["apiregistration.k8s.io"], resources: ["apiservices"], verbs: kindVerbs },
];

const reviewRule: RbacRule = {
  apiGroups: ["authorization.k8s.io"],
  resources: ["selfsubjectaccessreviews"],
  verbs: ["create"],
};

/**
 * The URLs discovery reads: aggregated discovery reads the two root documents only; legacy discovery then one
 * document per group version, of every group (the engine refreshes all of discovery, not the selected groups').
 */
function discoveryRule(source: DiscoveryResult["source"]): RbacRule {
  const urls = source === "aggregated" ? ["/api", "/apis"] : ["/api", "/api/*", "/apis", "/apis/*"];
  return { nonResourceURLs: urls, verbs: ["get"] };
}

/** One rule per API group and verbs, groups in order (the core group first), resources sorted. */
function merged(rules: readonly RbacRule[]): RbacRule[] {
  const byGroup = new Map<string, { group: string; verbs: readonly string[]; resources: Set<string> }>();
  const other: RbacRule[] = [];
  for (const rule of rules) {
    if (!rule.apiGroups || !rule.resources) {
      other.push(rule);
      continue;
    }
    for (const group of rule.apiGroups) {
      const verbs = [...rule.verbs].sort();
      const key = `${group}\u0000${verbs.join(",")}`;
      const entry = byGroup.get(key) ?? { group, verbs, resources: new Set<string>() };
      for (const r of rule.resources) entry.resources.add(r);
      // Every resource of the group covers the ones named.
      if (entry.resources.has("*")) entry.resources = new Set(["*"]);
      byGroup.set(key, entry);
    }
  }
  const resourceRules = [...byGroup.values()]
    .sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : a.verbs.join() < b.verbs.join() ? -1 : 1))
    .map(({ group, verbs, resources }) => ({ apiGroups: [group], resources: [...resources].sort(), verbs }));
  return [...resourceRules, ...other];
}

/**
 * List and watch on `resources`; on every resource (`*`) of a group the selection names as a whole, so that its kinds
 * to come are covered too, unless the selection leaves out some of its kinds (then only those there now).
 */
function kindRules(resources: readonly ApiResource[], selection: KindSelection): RbacRule[] {
  const { include, exclude } = selection;
  const partial = (exclude?.kinds?.length ?? 0) + (exclude?.categories?.length ?? 0) > 0;
  const whole = partial ? [] : (include?.groups ?? []).filter((g) => !exclude?.groups?.includes(g));
  return [
    ...whole.map((g) => ({ apiGroups: [g], resources: ["*"], verbs: kindVerbs })),
    ...resources
      .filter((r) => !whole.includes(r.group))
      .map((r) => ({ apiGroups: [r.group], resources: [r.resource], verbs: kindVerbs })),
  ];
}

/** The kinds a watch-all engine with `selection` watches on a server whose discovery is `discovery`. */
export function watchedKinds(discovery: DiscoveryResult, selection: KindSelection): ApiResource[] {
  return preferredResources(discovery).filter((r) => isWanted(r, selection));
}

/**
 * The least rules under which a watch-all engine with `selection` watches every kind it selects on the server whose
 * discovery is `discovery`, and makes no request the server refuses. Kinds that come later are covered when the
 * selection names their group as a whole (`*` of the group); otherwise (every custom kind, a category, a kind name of
 * another group) RBAC has no rule short of `*` in every group, so compute the rules again once they are there: until
 * then the engine quarantines them as forbidden, and the other kinds carry on.
 */
export function watchAllRules(discovery: DiscoveryResult, selection: RulesSelection): WatchAllRules {
  const kinds = watchedKinds(discovery, selection);
  const engine = [
    ...metaRules,
    ...(selection.accessReview === false ? [] : [reviewRule]),
    discoveryRule(discovery.source),
  ];
  const namespace = objectScope(true, selection).namespace;
  if (namespace === undefined) return { cluster: merged([...kindRules(kinds, selection), ...engine]) };
  // One namespace: the engine leaves cluster-scoped kinds out and watches the others in that namespace only.
  const rules = merged(kindRules(kinds, selection));
  return { cluster: merged(engine), ...(rules.length > 0 ? { namespace: { name: namespace, rules } } : {}) };
}
