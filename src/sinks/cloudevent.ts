/**
 * The watch-all stream as CloudEvents 1.0: each object or kind event becomes one {@link Delivery}, with an `id` that
 * is the same every time the same change is delivered (receivers de-duplicate on it).
 */
import { CloudEvent } from "cloudevents";
import type { KubeObject } from "../object/types.js";
import { groupResource, type KindEvent, type ObjectEvent, type WatchAllEvent } from "../watchall/types.js";
import type { Delivery } from "./types.js";

/**
 * What `data` carries: the whole object, its metadata only, or a JSON Patch from the state delivered before (then with
 * `datacontenttype: application/json-patch+json`; the whole object, as `application/json`, when no state is known).
 */
export type DataMode = "object" | "metadata" | "patch";

/** How events are made. */
export interface CloudEventOptions {
  /** The cluster's name in `source` (`kindwatch://<cluster>/apis/...`). */
  readonly clusterName: string;
  /** Default "object". */
  readonly data?: DataMode | undefined;
}

/** One operation of an RFC 6902 JSON Patch. */
export type JsonPatchOp =
  | { readonly op: "add" | "replace"; readonly path: string; readonly value: unknown }
  | { readonly op: "remove"; readonly path: string };

const kindTypes: Readonly<Record<KindEvent["type"], string>> = {
  KIND_ADDED: "added",
  KIND_SYNCED: "synced",
  KIND_VERSION_CHANGED: "versionchanged",
  KIND_QUARANTINED: "quarantined",
  KIND_REMOVED: "removed",
};

function isObjectEvent(e: WatchAllEvent): e is ObjectEvent {
  return e.type === "ADDED" || e.type === "MODIFIED" || e.type === "DELETED";
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** A JSON Pointer token (RFC 6901): `~` and `/` escaped. */
function token(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && sameJson(a[k], b[k]));
  }
  return false;
}

/**
 * An RFC 6902 JSON Patch that turns `from` into `to`: maps are compared key by key, and anything else that differs
 * (arrays included: list items have no stable identity here) is replaced whole.
 */
export function jsonPatch(from: unknown, to: unknown, path = ""): JsonPatchOp[] {
  if (sameJson(from, to)) return [];
  if (!isPlainObject(from) || !isPlainObject(to)) return [{ op: "replace", path, value: to }];
  const ops: JsonPatchOp[] = [];
  for (const key of Object.keys(from)) {
    if (!(key in to)) ops.push({ op: "remove", path: `${path}/${token(key)}` });
  }
  for (const [key, value] of Object.entries(to)) {
    const at = `${path}/${token(key)}`;
    if (!(key in from)) ops.push({ op: "add", path: at, value });
    else ops.push(...jsonPatch(from[key], value, at));
  }
  return ops;
}

/** The API path of a kind's collection: `/apis/apps/v1/namespaces/default/deployments`, `/api/v1/nodes`. */
export function collectionPath(e: WatchAllEvent, namespace?: string): string {
  const base = e.group ? `/apis/${e.group}/${e.version}` : `/api/${e.version}`;
  return namespace ? `${base}/namespaces/${namespace}/${e.resource}` : `${base}/${e.resource}`;
}

/** The change's stable id: `<uid>/<resourceVersion>`, `-deleted` appended for a delete that was inferred, not watched. */
export function objectEventId(e: ObjectEvent): string {
  const uid = e.object.metadata?.uid ?? "";
  return `${uid}/${e.resourceVersion}${e.type === "DELETED" && e.finalStateUnknown ? "-deleted" : ""}`;
}

/** The key that orders an event's deliveries: the object's uid, or the kind's `group/resource`. */
export function deliveryKey(e: WatchAllEvent): string {
  if (isObjectEvent(e)) return e.object.metadata?.uid || `${groupResource(e)}/${e.namespace}/${e.name}`;
  return `${e.group}/${e.resource}`;
}

function metadataOf(o: KubeObject): KubeObject {
  return { apiVersion: o.apiVersion, kind: o.kind, metadata: o.metadata };
}

/**
 * Makes {@link Delivery}s of watch-all events. In "patch" mode it remembers the last state it made an event of, per
 * object, and patches from it: make deliveries in the order the sink receives them (one object's events in stream
 * order), so that each patch applies to the state its receiver holds.
 */
export class CloudEventMaker {
  readonly #cluster: string;
  readonly #mode: DataMode;
  /** Patch mode: the last state delivered, by uid. */
  readonly #last = new Map<string, unknown>();

  constructor(options: CloudEventOptions) {
    this.#cluster = options.clusterName;
    this.#mode = options.data ?? "object";
  }

  /** The delivery of `event`, received at `receivedAt` (the event's `time`). */
  make(event: WatchAllEvent, receivedAt: Date): Delivery {
    const key = deliveryKey(event);
    const common = {
      time: receivedAt.toISOString(),
      datacontenttype: "application/json",
      kwgroup: event.group,
      kwversion: event.version,
      kwkind: event.kind,
      kwresource: event.resource,
    };
    if (!isObjectEvent(event)) {
      const { type, reason, previousVersion, ...info } = event;
      const ce = new CloudEvent<unknown>({
        ...common,
        id: `${event.group}/${event.resource}/${kindTypes[type]}/${event.version}`,
        type: `dev.kindwatch.kind.${kindTypes[type]}`,
        source: this.#source(collectionPath(event)),
        subject: groupResource(event),
        data: { ...info, ...(reason === undefined ? {} : { reason }), ...(previousVersion ? { previousVersion } : {}) },
      });
      return { event: ce, key };
    }
    const changed = event.changedPaths?.length ? { kwchanged: event.changedPaths.join(",") } : {};
    const { data, patch } = this.#data(event, key);
    const ce = new CloudEvent<unknown>({
      ...common,
      ...changed,
      // A patch says so in its media type (RFC 6902's): a receiver tells it from a whole object without guessing.
      ...(patch ? { datacontenttype: "application/json-patch+json" } : {}),
      kworigin: event.origin,
      id: objectEventId(event),
      type: `dev.kindwatch.object.${event.type.toLowerCase()}`,
      source: this.#source(collectionPath(event, event.namespace)),
      subject: event.namespace ? `${event.namespace}/${event.name}` : event.name,
      data,
    });
    return { event: ce, key };
  }

  #source(path: string): string {
    return `kindwatch://${this.#cluster}${path}`;
  }

  #data(event: ObjectEvent, key: string): { data: unknown; patch: boolean } {
    if (this.#mode === "object") return { data: event.object, patch: false };
    if (this.#mode === "metadata") return { data: metadataOf(event.object), patch: false };
    const last = this.#last.get(key);
    if (event.type === "DELETED") this.#last.delete(key);
    else this.#last.set(key, event.object);
    return last === undefined
      ? { data: event.object, patch: false }
      : { data: jsonPatch(last, event.object), patch: true };
  }
}
