/**
 * Aggregated discovery (`apidiscovery.k8s.io/v2`, and `v2beta1` from 1.26-1.29 servers): the whole API surface in two
 * responses, `/api` for the core group and `/apis` for the rest.
 */
import { ApiError } from "../http/errors.js";
import type { Transport } from "../http/transport.js";
import { asMap } from "../object/narrow.js";
import {
  assemble,
  type GroupDraft,
  type ResourceDraft,
  records,
  singularOrGuess,
  sortSubresources,
  strings,
  text,
  type VersionDraft,
} from "./result.js";
import type { ApiSubresource, DiscoveryResult } from "./types.js";

/** Asks for aggregated discovery, newest first; plain JSON lets an older server answer with legacy documents. */
export const aggregatedAccept =
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList," +
  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList," +
  "application/json";

/** Whether a document is an `APIGroupDiscoveryList` (rather than a legacy `APIVersions` or `APIGroupList`). */
export function isAggregatedDocument(doc: unknown): boolean {
  return asMap(doc)?.kind === "APIGroupDiscoveryList";
}

function parseVersion(group: string, raw: Record<string, unknown>): VersionDraft | undefined {
  const version = text(raw.version);
  if (!version) return undefined;
  if (raw.freshness === "Stale") {
    const gv = group ? `${group}/${version}` : version;
    return {
      version,
      unavailable: {
        reason: "Stale",
        message: `the API server could not refresh its discovery of ${gv}: the server behind it is not answering`,
      },
    };
  }
  const resources = records(raw.resources).flatMap((r): ResourceDraft[] => {
    const kind = text(asMap(r.responseKind)?.kind);
    const resource = text(r.resource);
    // client-go drops entries without a name or a kind too: nothing could be done with them.
    if (!resource || !kind) return [];
    const subresources = records(r.subresources).flatMap((s): ApiSubresource[] => {
      const responseKind = asMap(s.responseKind);
      const name = text(s.subresource);
      if (!name || !responseKind) return [];
      return [
        {
          name,
          group: text(responseKind.group) || group,
          version: text(responseKind.version) || version,
          kind: text(responseKind.kind) || kind,
          verbs: strings(s.verbs),
        },
      ];
    });
    return [
      {
        resource,
        kind,
        singular: singularOrGuess(text(r.singularResource), kind),
        namespaced: r.scope === "Namespaced",
        verbs: strings(r.verbs),
        shortNames: strings(r.shortNames),
        categories: strings(r.categories),
        subresources: sortSubresources(subresources),
      },
    ];
  });
  return { version, resources };
}

function groupDrafts(doc: unknown): GroupDraft[] {
  return records(asMap(doc)?.items).map((item) => {
    const name = text(asMap(item.metadata)?.name);
    return { name, versions: records(item.versions).flatMap((v) => parseVersion(name, v) ?? []) };
  });
}

/** Reads the two aggregated documents (`/api`, then `/apis`) into a result. */
export function parseAggregatedDiscovery(api: unknown, apis: unknown): DiscoveryResult {
  return assemble([...groupDrafts(api), ...groupDrafts(apis)], "aggregated");
}

/** A root document as fetched, with the entity tag the server gave it (aggregated discovery has one). */
export interface RootDocument {
  readonly body: unknown;
  readonly etag?: string;
}

/** One root document; with `held`, only if it changed (`If-None-Match`), else `held` itself. */
async function fetchRootDocument(
  transport: Transport,
  path: "/api" | "/apis",
  held: RootDocument | undefined,
  signal: AbortSignal | undefined,
): Promise<RootDocument> {
  const etag = held?.etag;
  const res = await transport.request({
    path,
    accept: aggregatedAccept,
    ...(signal ? { signal } : {}),
    ...(held && etag !== undefined ? { ifNoneMatch: etag } : {}),
  });
  if (res.status === 304 && held) return held;
  const header = res.headers.etag;
  const tag = Array.isArray(header) ? header[0] : header;
  let body: unknown;
  try {
    body = res.body.length === 0 ? undefined : JSON.parse(res.body.toString("utf8"));
  } catch (err) {
    throw new ApiError({
      kind: "Unknown",
      status: res.status,
      message: `GET ${path}: the server answered ${res.status} with a body that is not JSON: ${res.body.toString("utf8", 0, 100)}`,
      request: `GET ${path}`,
      cause: err,
    });
  }
  return tag ? { body, etag: tag } : { body };
}

/**
 * Both root documents as fetched with {@link aggregatedAccept}: aggregated ones, or legacy ones from an older server.
 * Documents in `held` are revalidated by their entity tags, and kept where the server answers `304 Not Modified`.
 */
export async function fetchRootDocuments(
  transport: Transport,
  signal?: AbortSignal,
  held?: { readonly api: RootDocument; readonly apis: RootDocument },
): Promise<{ api: RootDocument; apis: RootDocument }> {
  const [api, apis] = await Promise.all([
    fetchRootDocument(transport, "/api", held?.api, signal),
    fetchRootDocument(transport, "/apis", held?.apis, signal),
  ]);
  return { api, apis };
}
