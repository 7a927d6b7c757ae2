/** Naming resources and kinds, and the URL paths they live at. */

/** A resource as the API serves it: `apps/v1/deployments`. The core group is "". */
export interface GroupVersionResource {
  /** The API group; "" for the core group. */
  readonly group: string;
  /** The version within the group, such as `v1`. */
  readonly version: string;
  /** The plural, lowercase resource name, such as `deployments`. */
  readonly resource: string;
}

/**
 * A resource and, where known, its scope: discovery's `ApiResource` is one, so a client made from it knows whether its
 * objects live in namespaces; a bare {@link GroupVersionResource} leaves the scope unknown.
 */
export interface ResourceType extends GroupVersionResource {
  /** Whether objects live in a namespace; absent when unknown. */
  readonly namespaced?: boolean | undefined;
}

/** A kind as objects name it: `apps/v1, Kind=Deployment`. The core group is "". */
export interface GroupVersionKind {
  /** The API group; "" for the core group. */
  readonly group: string;
  /** The version within the group, such as `v1`. */
  readonly version: string;
  /** The kind, such as `Deployment`. */
  readonly kind: string;
}

/** `group/version`, or `version` alone for the core group, as in an object's `apiVersion`. */
export function apiVersionOf(gv: { readonly group: string; readonly version: string }): string {
  return gv.group ? `${gv.group}/${gv.version}` : gv.version;
}

/** Splits an `apiVersion` into group and version. */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf("/");
  return slash < 0
    ? { group: "", version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** `resource.version.group` (kubectl's fully qualified spelling), or `resource.version` for the core group. */
export function formatGvr(gvr: GroupVersionResource): string {
  return gvr.group ? `${gvr.resource}.${gvr.version}.${gvr.group}` : `${gvr.resource}.${gvr.version}`;
}

/** How kubectl names a resource unambiguously: `pods`, `deployments.apps`, `myresources.example.com`. */
export function qualifiedName(resource: { readonly resource: string; readonly group: string }): string {
  return resource.group ? `${resource.resource}.${resource.group}` : resource.resource;
}

const segment = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/i;

function checkSegment(what: string, value: string): string {
  if (!segment.test(value) || value.includes("..")) {
    throw new TypeError(`invalid ${what} ${JSON.stringify(value)}: expected a DNS-style name`);
  }
  return value;
}

/** A name as one path segment; "." and ".." would be resolved away on the way to the server and address another path. */
function nameSegment(what: string, value: string): string {
  if (!value || value === "." || value === "..") throw new TypeError(`invalid ${what} ${JSON.stringify(value)}`);
  return encodeURIComponent(value);
}

/** The URL path of a resource, a namespace's part of it, one object, or a subresource of it. */
export function resourcePath(
  gvr: GroupVersionResource,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = gvr.group
    ? `/apis/${checkSegment("group", gvr.group)}/${checkSegment("version", gvr.version)}`
    : `/api/${checkSegment("version", gvr.version)}`;
  let path = base;
  if (namespace) path += `/namespaces/${nameSegment("namespace", namespace)}`;
  path += `/${checkSegment("resource", gvr.resource)}`;
  if (name !== undefined) path += `/${nameSegment("object name", name)}`;
  if (subresource) path += `/${checkSegment("subresource", subresource)}`;
  return path;
}
