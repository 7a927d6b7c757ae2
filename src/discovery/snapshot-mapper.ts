/**
 * Mapping over one discovery result, synchronously: kinds to resources and back, and what a user types to resources,
 * as kubectl resolves it (resource.Builder's mappingFor, the ShortcutExpander and the category expander).
 */
import { AmbiguousError, NoMatchError, qualifiedName } from "./errors.js";
import { type Candidate, closest } from "./suggest.js";
import type { ApiResource, DiscoveryResult, KindRef, ResourceRef } from "./types.js";

/** What a user typed, resolved: one resource, or every resource of a category. */
export interface Resolution {
  /** The text as given, trimmed. */
  readonly input: string;
  /** The category the text named (`all`, or a custom one), else undefined. */
  readonly category: string | undefined;
  /** The resource it names, or the category's resources at their preferred versions, in the server's group order. */
  readonly resources: readonly ApiResource[];
}

/**
 * Whether a group belongs to Kubernetes itself: the core group, the undotted groups (`apps`, `batch`, ...), and the
 * `*.k8s.io` and `*.kubernetes.io` groups, which a CRD may only use with the API reviewers' approval.
 */
export function isBuiltinGroup(group: string): boolean {
  return !group.includes(".") || group.endsWith(".k8s.io") || group.endsWith(".kubernetes.io");
}

/** One entry per group and resource, at the first version of the group's preference order that serves it. */
export function preferredResources(result: DiscoveryResult): ApiResource[] {
  return firstOfEach(result.resources);
}

/** The first of each group and resource, keeping the order. */
function firstOfEach(resources: readonly ApiResource[]): ApiResource[] {
  const seen = new Set<string>();
  return resources.filter((r) => {
    const key = `${r.group}/${r.resource}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

type Match = (r: ApiResource) => boolean;

function versionedName(name: string, version: string | undefined, group: string): string {
  return [name, version, group].filter((p) => p).join(".");
}

/** A REST mapper over one discovery result; throws {@link NoMatchError} or {@link AmbiguousError}. */
export class SnapshotMapper {
  readonly result: DiscoveryResult;
  readonly #preferred: readonly ApiResource[];

  constructor(result: DiscoveryResult) {
    this.result = result;
    this.#preferred = preferredResources(result);
  }

  /** Every resource type at its preferred version: what `kubectl api-resources` lists. */
  get preferredResources(): readonly ApiResource[] {
    return this.#preferred;
  }

  /** The version to use for `group` when none is given. */
  preferredVersion(group: string): string {
    const found = this.result.groups.find((g) => g.name === group)?.preferredVersion;
    if (found !== undefined) return found;
    const candidates = this.result.groups.map((g) => ({ key: g.name, label: g.name }));
    const suggestions = closest(group, candidates);
    throw new NoMatchError(group, `the server serves no API group "${group}"${didYouMean(suggestions)}`, suggestions);
  }

  /** The resource (and its kind, scope and verbs) named by group, plural or singular name, and optional version. */
  kindFor(ref: ResourceRef): ApiResource {
    const name = ref.resource.toLowerCase();
    const inGroup = this.result.resources.filter((r) => r.group === ref.group);
    const atVersion = inGroup.filter((r) => ref.version === undefined || r.version === ref.version);
    const found = atVersion.find((r) => r.resource === name) ?? atVersion.find((r) => r.singular === name);
    if (found) return found;
    const input = versionedName(ref.resource, ref.version, ref.group);
    const elsewhere = inGroup.filter((r) => r.resource === name || r.singular === name);
    const suggestions =
      elsewhere.length > 0
        ? elsewhere.map((r) => versionedName(r.resource, r.version, r.group))
        : closest(
            name,
            inGroup.flatMap((r) => [r.resource, r.singular].map((key) => ({ key, label: qualifiedName(r) }))),
          );
    throw new NoMatchError(input, `the server has no resource "${input}"${didYouMean(suggestions)}`, suggestions);
  }

  /** The resource that serves a kind, by group, kind and optional version (the preferred version when absent). */
  resourceFor(ref: KindRef): ApiResource {
    const inGroup = this.result.resources.filter((r) => r.group === ref.group);
    const matches = inGroup.filter(
      (r) => r.kind === ref.kind && (ref.version === undefined || r.version === ref.version),
    );
    const first = matches[0];
    if (first) {
      const others = matches.filter((r) => r.version === first.version && r.resource !== first.resource);
      if (others.length === 0) return first;
      // Several resources of one kind at one version (rare): the one named after the kind is its home, as in client-go.
      const home = [first, ...others].filter((r) => r.singular === ref.kind.toLowerCase());
      if (home.length === 1 && home[0]) return home[0];
      throw new AmbiguousError(versionedName(ref.kind, ref.version, ref.group), [first, ...others]);
    }
    const input = versionedName(ref.kind, ref.version, ref.group);
    const elsewhere = inGroup.filter((r) => r.kind === ref.kind);
    const suggestions =
      elsewhere.length > 0
        ? elsewhere.map((r) => versionedName(r.kind, r.version, r.group))
        : closest(
            ref.kind,
            inGroup.map((r) => ({ key: r.kind, label: versionedName(r.kind, undefined, r.group) })),
          );
    throw new NoMatchError(input, `the server has no kind "${input}"${didYouMean(suggestions)}`, suggestions);
  }

  /** The resources of a category (`all`, or a custom one) at their preferred versions; empty when there are none. */
  category(name: string): ApiResource[] {
    const wanted = name.toLowerCase();
    return this.#preferred.filter((r) => r.categories.includes(wanted));
  }

  /**
   * What a user typed, resolved as kubectl does: a category first (`all`), else one resource by plural, singular or
   * short name or kind, each optionally followed by `.group` or `.version.group`.
   */
  resolve(text: string): Resolution {
    const input = text.trim();
    const inCategory = this.category(input);
    if (inCategory.length > 0) return { input, category: input.toLowerCase(), resources: inCategory };
    return { input, category: undefined, resources: [this.resolveResource(input)] };
  }

  /** One resource from what a user typed (`deploy`, `MyResource.v1.example.com`, ...); categories are not expanded. */
  resolveResource(text: string): ApiResource {
    const input = text.trim();
    if (!input) throw new NoMatchError(text, "no resource type given: name one, e.g. pods or deployments.apps");
    const found = this.#lookup(input.toLowerCase(), input);
    if (found) return found;
    const suggestions = this.#suggest(input);
    throw new NoMatchError(input, `the server has no resource type "${input}"${didYouMean(suggestions)}`, suggestions);
  }

  /**
   * kubectl's order: `name.version.group` as a resource, then `name.group` (the group may be empty) as a resource,
   * by exact name before short name, then short names in groups `group` begins, then the same two forms as kinds.
   */
  #lookup(lower: string, input: string): ApiResource | undefined {
    const parts = lower.split(".");
    const name = parts[0] ?? "";
    const group = parts.length > 1 ? parts.slice(1).join(".") : undefined;
    const full = parts.length > 2 ? { version: parts[1], group: parts.slice(2).join(".") } : undefined;
    const exact: Match = (r) => r.resource === name || r.singular === name;
    const short: Match = (r) => r.shortNames.some((s) => s.toLowerCase() === name);
    const kind: Match = (r) => r.kind.toLowerCase() === name;
    const at = (g: string | undefined, v: string | undefined): Match => {
      return (r) => (g === undefined || r.group === g) && (v === undefined || r.version === v);
    };
    const groupPrefix: Match = (r) => group !== undefined && r.group.startsWith(group);
    const steps: Match[][] = [
      ...(full
        ? [
            [at(full.group, full.version), exact],
            [at(full.group, full.version), short],
          ]
        : []),
      [at(group, undefined), exact],
      [at(group, undefined), short],
      ...(group !== undefined ? [[groupPrefix, short]] : []),
      ...(full ? [[at(full.group, full.version), kind]] : []),
      [at(group, undefined), kind],
    ];
    for (const step of steps) {
      const matches = this.result.resources.filter((r) => step.every((m) => m(r)));
      if (matches.length > 0) return choose(input, matches);
    }
    return undefined;
  }

  /** Close names that resolve: bare where they resolve alone, else with their group. */
  #suggest(input: string): string[] {
    const typed = input.toLowerCase();
    const withGroup = typed.includes(".");
    const candidates: Candidate[] = [];
    // Bare names are labelled by their index here, and get their final label only once found close: deciding whether
    // a name resolves alone is a lookup, too dear to do for every name the server has.
    const bare: { name: string; resource: ApiResource | undefined }[] = [];
    for (const r of this.#preferred) {
      const names = [r.resource, r.singular, ...r.shortNames.map((s) => s.toLowerCase()), r.kind.toLowerCase()];
      for (const name of new Set(names)) {
        if (withGroup) {
          if (!r.group) continue;
          candidates.push({ key: `${name}.${r.group}`, label: `${name}.${r.group}` });
          candidates.push({ key: `${name}.${r.version}.${r.group}`, label: `${name}.${r.version}.${r.group}` });
        } else {
          candidates.push({ key: name, label: String(bare.push({ name, resource: r }) - 1) });
        }
      }
    }
    if (withGroup) return closest(typed, candidates);
    for (const category of new Set(this.#preferred.flatMap((r) => r.categories))) {
      candidates.push({ key: category, label: String(bare.push({ name: category, resource: undefined }) - 1) });
    }
    const labels = closest(typed, candidates, 20).map((index) => {
      const { name, resource } = bare[Number(index)] ?? { name: "", resource: undefined };
      return !resource || this.#resolvesTo(name, resource) ? name : qualifiedName(resource);
    });
    return [...new Set(labels)].slice(0, 5);
  }

  #resolvesTo(name: string, resource: ApiResource): boolean {
    try {
      const found = this.#lookup(name, name);
      return found?.group === resource.group && found.resource === resource.resource;
    } catch {
      return false;
    }
  }
}

/**
 * Picks among matches as kubectl does, with one difference: kubectl takes the match in the group the server lists
 * first, but among custom groups that order is alphabetical, an accident; so a built-in group wins (core first, so
 * `events` is the core one) and matches in custom groups alone are ambiguous. Versions of one resource are not.
 */
function choose(input: string, matches: readonly ApiResource[]): ApiResource {
  const distinct = firstOfEach(matches);
  if (distinct.length === 1) return distinct[0] as ApiResource;
  const builtin = distinct.filter((r) => isBuiltinGroup(r.group));
  const top = builtin[0];
  if (!top) throw new AmbiguousError(input, distinct);
  const inTop = builtin.filter((r) => r.group === top.group);
  if (inTop.length === 1) return top;
  throw new AmbiguousError(input, inTop);
}

function didYouMean(suggestions: readonly string[]): string {
  if (suggestions.length === 0) return "; kubectl api-resources lists what it serves";
  const quoted = suggestions.map((s) => `"${s}"`);
  const list = quoted.length === 1 ? quoted[0] : `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
  return `; did you mean ${list}?`;
}
