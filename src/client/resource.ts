/**
 * The dynamic client: any resource by GroupVersionResource, as plain JSON objects. One {@link ResourceClient} per
 * resource (and namespace); everything goes through the cluster's one {@link Transport}.
 */
import { ApiError, errorFromStatus } from "../http/errors.js";
import type { Query, Transport } from "../http/transport.js";
import type { KubeObject, List } from "../object/types.js";
import { type GroupVersionResource, resourcePath } from "./gvr.js";
import { lines, parseLine } from "./lines.js";
import {
  type CallOptions,
  type DeleteCollectionOptions,
  type DeleteOptions,
  type ListOptions,
  listQuery,
  type PartialObjectMetadata,
  type PatchOptions,
  type PatchType,
  type Status,
  type Table,
  type TableOptions,
  type WatchEvent,
  type WatchOptions,
  type WriteOptions,
} from "./options.js";

const patchContentTypes: Readonly<Record<PatchType, string>> = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  apply: "application/apply-patch+yaml",
};

const metaAccept = (as: string) => `application/json;as=${as};v=v1;g=meta.k8s.io,application/json`;
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
const defaultPageSize = 500;

function timeoutOf(opts: CallOptions): { signal?: AbortSignal; timeoutMs?: number } {
  return {
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
  };
}

function writeQuery(opts: PatchOptions) {
  return {
    dryRun: opts.dryRun ? "All" : undefined,
    fieldManager: opts.fieldManager,
    fieldValidation: opts.fieldValidation,
    force: opts.force,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function asObject<T>(value: unknown, what: string): T {
  if (!isRecord(value))
    throw new ApiError({ kind: "Unknown", status: 0, message: `${what}: the server sent no object` });
  return value as T;
}

function nameOf(obj: KubeObject, what: string): string {
  const name = isRecord(obj?.metadata) ? obj.metadata.name : undefined;
  if (typeof name !== "string" || !name) throw new TypeError(`${what}: the object has no metadata.name`);
  return name;
}

/** Decodes one watch line into an event; an `ERROR` event carries the server's Status as an {@link ApiError}. */
export function decodeWatchEvent<T>(raw: unknown, request: string): WatchEvent<T> {
  if (!isRecord(raw) || typeof raw.type !== "string") {
    throw new ApiError({ kind: "Unknown", status: 0, message: `${request}: a watch event without a type` });
  }
  switch (raw.type) {
    case "ADDED":
    case "MODIFIED":
    case "DELETED":
    case "BOOKMARK":
      return { type: raw.type, object: asObject<T>(raw.object, request) };
    case "ERROR": {
      const code = isRecord(raw.object) && typeof raw.object.code === "number" ? raw.object.code : 500;
      return { type: "ERROR", error: errorFromStatus(code, raw.object, request), object: raw.object };
    }
    default:
      throw new ApiError({ kind: "Unknown", status: 0, message: `${request}: unknown watch event type ${raw.type}` });
  }
}

/** Calls on one resource, cluster-wide or in one namespace. Get one with {@link DynamicClient.resource}. */
export class ResourceClient<T extends KubeObject = KubeObject> {
  readonly transport: Transport;
  readonly gvr: GroupVersionResource;
  /** The namespace calls go to; undefined: cluster-scoped, or all namespaces for list and watch. */
  readonly namespaceName: string | undefined;

  constructor(transport: Transport, gvr: GroupVersionResource, namespace?: string) {
    this.transport = transport;
    this.gvr = gvr;
    this.namespaceName = namespace || undefined;
    resourcePath(gvr);
  }

  /** The same resource in namespace `ns`. */
  namespace(ns: string): ResourceClient<T> {
    return new ResourceClient<T>(this.transport, this.gvr, ns);
  }

  #path(name?: string, subresource?: string, ns = this.namespaceName): string {
    return resourcePath(this.gvr, ns, name, subresource);
  }

  /** Calls that carry an object go to its own namespace when this client names none. */
  #objectNamespace(obj: KubeObject): string | undefined {
    const ns = isRecord(obj?.metadata) ? obj.metadata.namespace : undefined;
    return this.namespaceName ?? (typeof ns === "string" && ns ? ns : undefined);
  }

  async #json<R>(method: string, path: string, opts: CallOptions, extra: object = {}): Promise<R> {
    const res = await this.transport.json({ method, path, ...timeoutOf(opts), ...extra });
    return asObject<R>(res, `${method} ${path}`);
  }

  /** Reads one object. */
  get(name: string, opts: CallOptions = {}): Promise<T> {
    return this.#json("GET", this.#path(name), opts);
  }

  /** Reads one object's status subresource. */
  getStatus(name: string, opts: CallOptions = {}): Promise<T> {
    return this.#json("GET", this.#path(name, "status"), opts);
  }

  /** Lists one page (all objects when no `limit` is given). */
  list(opts: ListOptions = {}): Promise<List<T>> {
    return this.#json("GET", this.#path(), opts, { query: listQuery(opts, false) });
  }

  /** Lists page after page with `limit`/`continue` (default 500 a page), yielding each page. */
  async *pages(opts: ListOptions = {}): AsyncGenerator<List<T>> {
    let token = opts.continue;
    do {
      const page = await this.list({
        ...opts,
        limit: opts.limit ?? defaultPageSize,
        ...(token ? { continue: token } : {}),
      });
      yield page;
      token = page.metadata?.continue || undefined;
    } while (token);
  }

  /** Every object, page by page, without holding more than a page in memory. */
  async *listAll(opts: ListOptions = {}): AsyncGenerator<T> {
    for await (const page of this.pages(opts)) yield* page.items ?? [];
  }

  /**
   * One watch request as an async iterable of events. It ends when the server ends the watch (timeout) or `signal`
   * fires; an expired resourceVersion arrives as an `ERROR` event with a `Gone` error. Re-watching and relisting are the
   * informer's job (`src/cache`), not this call's.
   */
  watch(opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    return this.#watch<T>(opts, undefined);
  }

  async *#watch<E>(opts: WatchOptions, accept: string | undefined): AsyncGenerator<WatchEvent<E>> {
    const path = this.#path();
    const request = `WATCH ${path}`;
    const res = await this.transport.stream({
      path,
      query: listQuery(opts, true),
      timeoutMs: opts.timeoutMs ?? 0,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(accept ? { accept } : {}),
    });
    try {
      for await (const line of lines(res.body)) yield decodeWatchEvent<E>(parseLine(line), request);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (opts.signal?.aborted) {
        throw new ApiError({ kind: "Aborted", status: 0, message: `${request} was aborted`, request, cause: err });
      }
      const message = `${request}: the stream broke: ${(err as Error).message}`;
      throw new ApiError({ kind: "Network", status: 0, message, request, cause: err });
    } finally {
      res.close();
    }
  }

  /** Creates an object; its namespace is this client's, else the object's own. */
  create(obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.#json("POST", this.#path(undefined, undefined, this.#objectNamespace(obj)), opts, {
      body: obj,
      query: writeQuery(opts),
    });
  }

  /** Replaces an object (optimistic concurrency: a stale `metadata.resourceVersion` is a Conflict). */
  update(obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.#json("PUT", this.#path(nameOf(obj, "update"), undefined, this.#objectNamespace(obj)), opts, {
      body: obj,
      query: writeQuery(opts),
    });
  }

  /** Replaces an object's status through the status subresource; spec changes in `obj` are ignored by the server. */
  updateStatus(obj: T, opts: WriteOptions = {}): Promise<T> {
    return this.#json("PUT", this.#path(nameOf(obj, "updateStatus"), "status", this.#objectNamespace(obj)), opts, {
      body: obj,
      query: writeQuery(opts),
    });
  }

  /** Patches an object: a JSON patch (an array of operations), a merge patch, a strategic merge patch or an apply. */
  patch(name: string, patch: unknown, type: PatchType, opts: PatchOptions = {}): Promise<T> {
    return this.#patch(name, undefined, patch, type, opts);
  }

  /** Patches an object's status subresource. */
  patchStatus(name: string, patch: unknown, type: PatchType, opts: PatchOptions = {}): Promise<T> {
    return this.#patch(name, "status", patch, type, opts);
  }

  #patch(name: string, sub: string | undefined, patch: unknown, type: PatchType, opts: PatchOptions, ns?: string) {
    if (type === "apply" && !opts.fieldManager) {
      throw new TypeError("server-side apply needs a fieldManager: pass { fieldManager: 'my-controller' }");
    }
    return this.#json<T>("PATCH", this.#path(name, sub, ns ?? this.namespaceName), opts, {
      body: patch,
      contentType: patchContentTypes[type],
      query: writeQuery(opts),
    });
  }

  /** Server-side apply of `obj` (the fields this manager wants); conflicts with other managers fail unless `force`. */
  apply(obj: T | Partial<T>, opts: PatchOptions & { fieldManager: string }): Promise<T> {
    const full = obj as T;
    return this.#patch(nameOf(full, "apply"), undefined, obj, "apply", opts, this.#objectNamespace(full));
  }

  /** Server-side apply to the status subresource. */
  applyStatus(obj: T | Partial<T>, opts: PatchOptions & { fieldManager: string }): Promise<T> {
    const full = obj as T;
    return this.#patch(nameOf(full, "applyStatus"), "status", obj, "apply", opts, this.#objectNamespace(full));
  }

  /**
   * Deletes an object. Returns the object while finalizers hold it (deletionTimestamp set), else the server's Status.
   */
  delete(name: string, opts: DeleteOptions = {}): Promise<T | Status> {
    return this.#json("DELETE", this.#path(name), opts, deleteRequest(opts));
  }

  /** Deletes every object the selectors match (in this namespace, or cluster-wide for cluster-scoped kinds). */
  deleteCollection(opts: DeleteCollectionOptions = {}): Promise<List<T> | Status> {
    const { query, ...body } = deleteRequest(opts);
    return this.#json("DELETE", this.#path(), opts, {
      ...body,
      query: { ...query, labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector },
    });
  }

  /** Reads the scale subresource (`autoscaling/v1 Scale`). */
  getScale(name: string, opts: CallOptions = {}): Promise<KubeObject> {
    return this.#json("GET", this.#path(name, "scale"), opts);
  }

  /** Replaces the scale subresource: `scale.spec.replicas` is what changes. */
  updateScale(name: string, scale: KubeObject, opts: WriteOptions = {}): Promise<KubeObject> {
    return this.#json("PUT", this.#path(name, "scale"), opts, { body: scale, query: writeQuery(opts) });
  }

  /** Patches the scale subresource, e.g. `{ spec: { replicas: 3 } }` as a merge patch. */
  patchScale(name: string, patch: unknown, type: PatchType, opts: PatchOptions = {}): Promise<KubeObject> {
    return this.#json("PATCH", this.#path(name, "scale"), opts, {
      body: patch,
      contentType: patchContentTypes[type],
      query: writeQuery(opts),
    });
  }

  /** Reads one object's metadata only. */
  getMetadata(name: string, opts: CallOptions = {}): Promise<PartialObjectMetadata> {
    return this.#json("GET", this.#path(name), opts, { accept: metaAccept("PartialObjectMetadata") });
  }

  /** Lists metadata only: a fraction of the bytes of a full list for kinds with large specs. */
  listMetadata(opts: ListOptions = {}): Promise<List<PartialObjectMetadata>> {
    return this.#json("GET", this.#path(), opts, {
      query: listQuery(opts, false),
      accept: metaAccept("PartialObjectMetadataList"),
    });
  }

  /** Watches metadata only. */
  watchMetadata(opts: WatchOptions = {}): AsyncGenerator<WatchEvent<PartialObjectMetadata>> {
    return this.#watch<PartialObjectMetadata>(opts, metaAccept("PartialObjectMetadata"));
  }

  /** The server's Table view (the columns `kubectl get` prints) of a list, or of one object when `name` is given. */
  table(opts: TableOptions & { name?: string } = {}): Promise<Table> {
    return this.#json("GET", this.#path(opts.name), opts, {
      query: { ...(opts.name ? {} : listQuery(opts, false)), includeObject: opts.includeObject },
      accept: tableAccept,
    });
  }
}

/**
 * Delete options go in the query, which the server reads when a DELETE has no body: undici closes the connection after
 * a DELETE that carries a body, so a body would cost a new TLS handshake per delete. Only preconditions need a body.
 */
function deleteRequest(opts: DeleteOptions): { query: Query; body?: object } {
  if (!opts.preconditions) {
    const { propagationPolicy, gracePeriodSeconds } = opts;
    return { query: { propagationPolicy, gracePeriodSeconds, dryRun: opts.dryRun ? "All" : undefined } };
  }
  return {
    query: {},
    body: {
      apiVersion: "v1",
      kind: "DeleteOptions",
      preconditions: opts.preconditions,
      ...(opts.propagationPolicy ? { propagationPolicy: opts.propagationPolicy } : {}),
      ...(opts.gracePeriodSeconds !== undefined ? { gracePeriodSeconds: opts.gracePeriodSeconds } : {}),
      ...(opts.dryRun ? { dryRun: ["All"] } : {}),
    },
  };
}

/** The dynamic client of one cluster: a {@link ResourceClient} for any resource. */
export class DynamicClient {
  readonly transport: Transport;

  constructor(transport: Transport) {
    this.transport = transport;
  }

  /** A client for `gvr`, cluster-wide (or all namespaces); call `.namespace(ns)` on it for one namespace. */
  resource<T extends KubeObject = KubeObject>(gvr: GroupVersionResource): ResourceClient<T> {
    return new ResourceClient<T>(this.transport, gvr);
  }
}
