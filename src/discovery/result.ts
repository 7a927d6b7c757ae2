/** Narrowing of discovery documents, and the assembly both protocols share, so that they give equal results. */
import type { ErrorKind } from "../http/errors.js";
import { isMap } from "../object/narrow.js";
import type { ApiGroup, ApiResource, ApiSubresource, DiscoveryResult, DiscoverySource } from "./types.js";

/** A resource as one protocol describes it, before its group version is known to be available and preferred. */
export type ResourceDraft = Omit<ApiResource, "group" | "version" | "preferred">;

/** One version of a group: its resources, or why it could not be read. */
export type VersionDraft =
  | { readonly version: string; readonly resources: readonly ResourceDraft[] }
  | {
      readonly version: string;
      readonly unavailable: { readonly reason: "Stale" | ErrorKind; readonly message: string };
    };

/** One group with its versions in the server's order of preference. */
export interface GroupDraft {
  readonly name: string;
  readonly versions: readonly VersionDraft[];
}

/** `value` as a string, or "" when it is not one. */
export function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** `value` as a list of JSON objects (non-objects dropped). */
export function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isMap) : [];
}

/** `value` as a list of non-empty strings. */
export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string" && v !== "") : [];
}

/** Servers that do not send a singular name still need one; client-go guesses the lowercased kind too. */
export function singularOrGuess(singular: string, kind: string): string {
  return singular || kind.toLowerCase();
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Subresources sorted by name: the two protocols list them in different orders. */
export function sortSubresources(subresources: ApiSubresource[]): ApiSubresource[] {
  return subresources.sort((a, b) => compare(a.name, b.name));
}

/**
 * Turns per-group drafts into a result. A group's preferred version is its first version that answered, as client-go
 * decides for aggregated discovery, so that one unavailable version does not leave a group without a preferred one.
 */
export function assemble(drafts: readonly GroupDraft[], source: DiscoverySource): DiscoveryResult {
  const groups: ApiGroup[] = [];
  const resources: ApiResource[] = [];
  const unavailable: DiscoveryResult["unavailable"][number][] = [];
  for (const draft of drafts) {
    const available = draft.versions.filter((v) => "resources" in v);
    const preferredVersion = available[0]?.version;
    groups.push({ name: draft.name, versions: available.map((v) => v.version), preferredVersion });
    for (const v of draft.versions) {
      if ("unavailable" in v) {
        unavailable.push({ group: draft.name, version: v.version, ...v.unavailable });
        continue;
      }
      // Aggregated discovery sorts by name; legacy lists a group's CRDs in creation order.
      const sorted = [...v.resources].sort((a, b) => compare(a.resource, b.resource));
      for (const r of sorted) {
        resources.push({ group: draft.name, version: v.version, ...r, preferred: v.version === preferredVersion });
      }
    }
  }
  return { groups, resources, unavailable, source };
}
