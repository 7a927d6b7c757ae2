/**
 * Metadata-only views. The client asks for `PartialObjectMetadata` but accepts plain JSON as a fallback, since a server
 * (an aggregated API, say) may not know the `as=` parameter; then it cuts the full objects down here, as client-go's
 * metadata client does, so that callers always get the same shape.
 */
import { ApiError } from "../http/errors.js";
import { asMap, isMap } from "../object/narrow.js";
import type { KubeObject, List, ObjectMeta } from "../object/types.js";
import type { PartialObjectMetadata } from "./options.js";

const metaApiVersion = "meta.k8s.io/v1";

function metadataOf(value: unknown): ObjectMeta | undefined {
  const meta = asMap(value)?.metadata;
  return isMap(meta) ? (meta as ObjectMeta) : undefined;
}

/** `obj` as `PartialObjectMetadata`: as it is when the server sent that, else only its metadata. */
export function toPartialObjectMetadata(obj: unknown, request: string): PartialObjectMetadata {
  const meta = metadataOf(obj);
  if (!meta) throw new ApiError({ kind: "Unknown", status: 0, message: `${request}: the server sent no metadata` });
  const kind = (obj as { kind?: unknown }).kind;
  if (kind === "PartialObjectMetadata") return obj as PartialObjectMetadata;
  return { apiVersion: metaApiVersion, kind: "PartialObjectMetadata", metadata: meta };
}

/** `list` as `PartialObjectMetadataList`: as it is when the server sent that, else with each item cut down. */
export function toPartialObjectMetadataList(list: List<KubeObject>, request: string): List<PartialObjectMetadata> {
  // The server sends `"items": null` for an empty PartialObjectMetadataList; the type promises an array.
  if (list.kind === "PartialObjectMetadataList")
    return { ...(list as List<PartialObjectMetadata>), items: list.items ?? [] };
  return {
    apiVersion: metaApiVersion,
    kind: "PartialObjectMetadataList",
    metadata: list.metadata ?? {},
    items: (list.items ?? []).map((item) => toPartialObjectMetadata(item, request)),
  };
}
