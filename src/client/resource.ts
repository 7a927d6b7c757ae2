/**
 * The dynamic client: any resource by GroupVersionResource, as plain JSON objects. One {@link ResourceClient} per
 * resource (and namespace); everything goes through the cluster's one {@link Transport}.
 */
import { ApiError, errorFromStatus } from "../http/errors.js";
import { JsonLineSplitter } from "../http/ndjson.js";
import type { Query, StreamResponse, StreamSink, Transport } from "../http/transport.js";
import { isMap } from "../object/narrow.js";
import type { KubeObject, List } from "../object/types.js";
import { type GroupVersionResource, qualifiedName, type ResourceType, resourcePath } from "./gvr.js";
import { toPartialObjectMetadata, toPartialObjectMetadataList } from "./metadata.js";
import {
  type CallOptions,
  type DeleteCollectionOptions,
  type DeleteOptions,
  type GetOptions,
  type ListOptions,
  listQuery,
  type PartialObjectMetadata,
  type PatchOptions,
  type PatchType,
  type Scale,
  type Status,
  type Table,
  type TableOptions,
  type WatchEvent,
  type WatchOptions,
  type WatchSink,
  type WatchSubscription,
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

function timeoutOf(opts: CallOptions): CallOptions {
  return { signal: opts.signal, timeoutMs: opts.timeoutMs };
}

function writeQuery(opts: PatchOptions) {
  return {
    dryRun: opts.dryRun ? "All" : undefined,
    fieldManager: opts.fieldManager,
    fieldValidation: opts.fieldValidation,
    force: opts.force,
  };
}

function asObject<T>(value: unknown, what: string): T {
  if (!isMap(value)) throw new ApiError({ kind: "Unknown", status: 0, message: `${what}: the server sent no object` });
  return value as T;
}

/** A copy of `error` with `hint` added to its message (and the original as its cause). */
function withHint(error: ApiError, hint: string): ApiError {
  return new ApiError({
    kind: error.kind,
    status: error.status,
    message: `${error.message}: ${hint}`,
    reason: error.reason,
    details: error.details,
    request: error.request,
    transient: error.transient,
    cause: error,
  });
}

/**
 * Whether a failure of a call without a namespace is the server's way of saying the path does not exist at cluster
 * scope: a 404 that is no Status about an object (`404 page not found`, or the Status with no details a built-in kind's
 * cluster-wide object path answers), or the 405 a built-in kind's cluster-wide collection answers to a create.
 */
function missingClusterRoute(err: unknown): err is ApiError {
  if (!(err instanceof ApiError)) return false;
  return (
    (err.kind === "NotFound" && err.status === 404 && err.details.name === undefined) || err.kind === "MethodNotAllowed"
  );
}

/** What a call that addresses one object or writes needs from its caller when the resource is namespaced. */
interface Scoped {
  /** The namespace the call goes to; undefined: none. */
  readonly ns: string | undefined;
  /** Whether the call carries an object, whose `metadata.namespace` would do. */
  readonly carriesObject: boolean;
}

/** `T` with every field optional, all the way down: the fields one manager owns. */
export type ApplyFields<T> = T extends readonly (infer E)[]
  ? readonly ApplyFields<E>[]
  : T extends object
    ? { [K in keyof T]?: ApplyFields<T[K]> | undefined }
    : T;

/**
 * What server-side apply takes: the fields of `T` this manager owns (any may be left out, at any depth), with the
 * `apiVersion`, `kind` and `metadata.name` the server needs to know which object it is.
 */
export type ApplyObject<T extends KubeObject = KubeObject> = {
  [K in keyof T as K extends "apiVersion" | "kind" | "metadata" ? never : K]?: ApplyFields<T[K]> | undefined;
} & {
  apiVersion: T["apiVersion"];
  kind: T["kind"];
  metadata: ApplyFields<T["metadata"]> & { name: string };
};

function nameOf(obj: { readonly metadata?: unknown }, what: string): string {
  const name = isMap(obj?.metadata) ? obj.metadata.name : undefined;
  if (typeof name !== "string" || !name) throw new TypeError(`${what}: the object has no metadata.name`);
  return name;
}

/** Decodes one watch line into an event; an `ERROR` event carries the server's Status as an {@link ApiError}. */
export function decodeWatchEvent<T>(raw: unknown, request: string): WatchEvent<T> {
  if (!isMap(raw) || typeof raw.type !== "string") {
    throw new ApiError({ kind: "Unknown", status: 0, message: `${request}: a watch event without a type` });
  }
  switch (raw.type) {
    case "ADDED":
    case "MODIFIED":
    case "DELETED":
    case "BOOKMARK":
      return { type: raw.type, object: asObject<T>(raw.object, request) };
    case "ERROR": {
      const code = isMap(raw.object) && typeof raw.object.code === "number" ? raw.object.code : 500;
      return { type: "ERROR", error: errorFromStatus(code, raw.object, request), object: raw.object };
    }
    default:
      throw new ApiError({ kind: "Unknown", status: 0, message: `${request}: unknown watch event type ${raw.type}` });
  }
}

/**
 * One pushed watch ({@link ResourceClient.watchPush}): each read of its stream split, parsed and decoded into the
 * sink's events in one synchronous pass. A class rather than closures: a watch-all engine holds one per kind, so what
 * each costs counts a thousand times. One AbortController ends the request, for close(), the caller's signal and the
 * watch's timeoutMs alike.
 */
class PushedWatch<E> implements WatchSubscription, StreamSink {
  readonly #request: string;
  readonly #opts: WatchOptions;
  readonly #convert: (obj: unknown, request: string) => E;
  readonly #sink: WatchSink<E>;
  readonly #splitter: JsonLineSplitter;
  readonly #lines: unknown[] = [];
  readonly #controller = new AbortController();
  /** The transport's deadline covers only the wait for the response; the watch's own timeoutMs covers all of it. */
  #deadline: NodeJS.Timeout | undefined;
  #timedOut = false;
  #res: StreamResponse | undefined;
  #done = false;
  #paused = false;

  constructor(request: string, opts: WatchOptions, convert: (obj: unknown, request: string) => E, sink: WatchSink<E>) {
    this.#request = request;
    this.#opts = opts;
    this.#convert = convert;
    this.#sink = sink;
    this.#splitter = new JsonLineSplitter(request, { dropManagedFields: opts.dropManagedFields });
    const caller = opts.signal;
    if (caller?.aborted) this.#controller.abort(caller.reason);
    else caller?.addEventListener("abort", this, { once: true });
    if (opts.timeoutMs) {
      this.#deadline = setTimeout(() => {
        this.#timedOut = true;
        this.#controller.abort();
      }, opts.timeoutMs);
      this.#deadline.unref();
    }
  }

  /** The request's signal. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The caller's signal fired (this object is its listener: no closure per watch). */
  handleEvent(): void {
    this.#controller.abort(this.#opts.signal?.reason);
  }

  /** Takes the stream once its response is in. */
  opened(response: Promise<StreamResponse>): void {
    response.then(
      (opened) => {
        if (this.#done) return opened.close();
        this.#res = opened;
        try {
          this.#opts.onOpen?.();
        } catch (err) {
          return this.#fail(err);
        }
        if (this.#done) return;
        if (this.#paused) opened.pause();
        opened.subscribe(this);
      },
      (err: unknown) => this.#fail(this.#timedOut && !this.#callerAborted ? this.#timeout(err) : err),
    );
  }

  pause(): void {
    this.#paused = true;
    this.#res?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#res?.resume();
  }

  close(): void {
    this.#done = true;
    this.#res?.close();
    this.#res = undefined;
    clearTimeout(this.#deadline);
    this.#opts.signal?.removeEventListener("abort", this);
    this.#controller.abort();
  }

  /** {@link StreamSink.data}: one network read. */
  data(chunk: Buffer): void {
    if (this.#done) return;
    try {
      this.#deliver(this.#splitter.push(chunk, this.#lines));
    } catch (err) {
      this.#fail(err);
    }
  }

  /** {@link StreamSink.end}: the server ended the stream. */
  end(): void {
    if (this.#done) return;
    if (!this.#deliver(this.#splitter.end(this.#lines)) || this.#done) return;
    // A stream cut by the deadline can also just end.
    if (this.#timedOut && !this.#callerAborted) {
      this.#fail(this.#timeout());
      return;
    }
    this.close();
    this.#sink.end();
  }

  /** {@link StreamSink.error}: the stream broke. */
  error(err: ApiError): void {
    this.#fail(err);
  }

  get #callerAborted(): boolean {
    return this.#opts.signal?.aborted === true;
  }

  #timeout(cause?: unknown): ApiError {
    return watchTimeout(this.#request, this.#opts, cause);
  }

  #failed(err: unknown): ApiError {
    if (this.#callerAborted) {
      return err instanceof ApiError && err.kind === "Aborted" ? err : watchAborted(this.#request, err);
    }
    if (this.#timedOut) return err instanceof ApiError && err.kind === "Timeout" ? err : this.#timeout(err);
    if (err instanceof ApiError) return err;
    const message = `${this.#request}: the stream broke: ${(err as Error).message}`;
    return new ApiError({ kind: "Network", status: 0, message, request: this.#request, cause: err });
  }

  #fail(err: unknown): void {
    if (this.#done) return;
    this.close();
    this.#sink.error(this.#failed(err));
  }

  /** The lines of one read (or of the stream's end) decoded and handed over; false once the watch has failed. */
  #deliver(failure: ApiError | undefined): boolean {
    // Lines already read may still be queued: none is delivered once the caller has asked to stop.
    if (this.#callerAborted) {
      this.#fail(watchAborted(this.#request, this.#opts.signal?.reason));
      return false;
    }
    if (this.#timedOut) {
      this.#fail(this.#timeout());
      return false;
    }
    const lines = this.#lines;
    let broken: unknown = failure;
    const batch: WatchEvent<E>[] = [];
    // A line that is not an event fails the watch, but only after the events read before it.
    for (let i = 0; i < lines.length; i++) {
      try {
        const event = decodeWatchEvent<unknown>(lines[i], this.#request);
        batch.push(
          event.type === "ERROR" ? event : { type: event.type, object: this.#convert(event.object, this.#request) },
        );
      } catch (err) {
        broken = err;
        break;
      }
    }
    lines.length = 0;
    if (batch.length > 0) this.#sink.events(batch);
    if (broken === undefined) return true;
    this.#fail(broken);
    return false;
  }
}

function watchAborted(request: string, cause?: unknown): ApiError {
  return new ApiError({ kind: "Aborted", status: 0, message: `${request} was aborted`, request, cause });
}

function watchTimeout(request: string, opts: WatchOptions, cause?: unknown): ApiError {
  const message = `${request} ran past its ${opts.timeoutMs} ms timeoutMs`;
  return new ApiError({ kind: "Timeout", status: 0, message, request, cause });
}

/** A watch's batches one event at a time; as between batches, none is delivered once the caller has asked to stop. */
async function* eachEvent<E>(
  batches: AsyncGenerator<WatchEvent<E>[]>,
  opts: WatchOptions,
  request: string,
): AsyncGenerator<WatchEvent<E>> {
  for await (const batch of batches) {
    for (let i = 0; i < batch.length; i++) {
      // As reading the next line did, wait a tick: an abort right after asking for the next event still stops it.
      if (i > 0) await Promise.resolve();
      if (opts.signal?.aborted) throw watchAborted(request, opts.signal.reason);
      yield batch[i] as WatchEvent<E>;
    }
  }
}

/** Calls on one resource, cluster-wide or in one namespace. Get one with {@link DynamicClient.resource}. */
export class ResourceClient<T extends KubeObject = KubeObject> {
  readonly transport: Transport;
  readonly gvr: GroupVersionResource;
  /** Whether the resource's objects live in namespaces: known when the client was made from discovery's ApiResource. */
  readonly namespaced: boolean | undefined;
  /** The namespace calls go to; undefined: cluster-scoped, or all namespaces for list and watch. */
  readonly namespaceName: string | undefined;

  constructor(transport: Transport, resource: ResourceType, namespace?: string) {
    this.transport = transport;
    this.gvr = { group: resource.group, version: resource.version, resource: resource.resource };
    this.namespaced = resource.namespaced;
    this.namespaceName = namespace || undefined;
    resourcePath(this.gvr);
  }

  /** The same resource in namespace `ns`. */
  namespace(ns: string): ResourceClient<T> {
    return new ResourceClient<T>(this.transport, this.#type(), ns);
  }

  #type(): ResourceType {
    return this.namespaced === undefined ? this.gvr : { ...this.gvr, namespaced: this.namespaced };
  }

  #path(name?: string, subresource?: string, ns = this.namespaceName): string {
    return resourcePath(this.gvr, ns, name, subresource);
  }

  /**
   * Calls that carry an object go to its own namespace when this client names none, as kubectl's do; a cluster-scoped
   * object's stray `metadata.namespace` is ignored, as the server ignores it.
   */
  #objectNamespace(obj: { readonly metadata?: unknown }): string | undefined {
    if (this.namespaced === false) return this.namespaceName;
    const ns = isMap(obj?.metadata) ? obj.metadata.namespace : undefined;
    return this.namespaceName ?? (typeof ns === "string" && ns ? ns : undefined);
  }

  /** What to do about a namespaced resource reached without a namespace, in the words of the call. */
  #namespaceAdvice(scoped: Scoped): string {
    const fix = "call .namespace(NAME) first";
    return scoped.carriesObject ? `${fix}, or set metadata.namespace` : fix;
  }

  /**
   * Sends a call. One that is `scoped` (addresses one object, or writes) fails before any request when the resource is
   * known to be namespaced and no namespace is given; when the scope is unknown, the server's "no such path" answer to
   * it says that the resource may be namespaced.
   */
  async #json<R>(method: string, path: string, opts: CallOptions, extra: object = {}, scoped?: Scoped): Promise<R> {
    const request = `${method} ${path}`;
    const unscoped = scoped !== undefined && scoped.ns === undefined;
    if (unscoped && this.namespaced === true) {
      const message = `${qualifiedName(this.gvr)} is namespaced: ${this.#namespaceAdvice(scoped)}`;
      const causes = [{ reason: "FieldValueRequired", field: "metadata.namespace", message }];
      throw new ApiError({
        kind: "BadRequest",
        status: 0,
        message,
        reason: "BadRequest",
        details: { causes },
        request,
      });
    }
    let res: unknown;
    try {
      res = await this.transport.json({ method, path, ...timeoutOf(opts), ...extra });
    } catch (err) {
      if (unscoped && this.namespaced === undefined && missingClusterRoute(err)) {
        throw withHint(err, `${qualifiedName(this.gvr)} may be namespaced: ${this.#namespaceAdvice(scoped)}`);
      }
      throw err;
    }
    return asObject<R>(res, request);
  }

  /** A call on one object by name (or a collection write), in this client's namespace. */
  get #byName(): Scoped {
    return { ns: this.namespaceName, carriesObject: false };
  }

  /** A call that carries `obj`, in the namespace it goes to. */
  #carrying(obj: { readonly metadata?: unknown }): Scoped {
    return { ns: this.#objectNamespace(obj), carriesObject: true };
  }

  /** Reads one object. */
  async get(name: string, opts: GetOptions = {}): Promise<T> {
    return this.#json("GET", this.#path(name), opts, getQuery(opts), this.#byName);
  }

  /** Reads one object's status subresource. */
  async getStatus(name: string, opts: GetOptions = {}): Promise<T> {
    return this.#json("GET", this.#path(name, "status"), opts, getQuery(opts), this.#byName);
  }

  /**
   * Lists one page (all objects when no `limit` is given). Items get the list's `apiVersion` and `kind` where the server
   * leaves them out (it does for built-in kinds), as client-go's unstructured lists do, so that a listed object looks
   * like a watched or fetched one.
   */
  async list(opts: ListOptions = {}): Promise<List<T>> {
    return withItemKinds(await this.#json<List<T>>("GET", this.#path(), opts, { query: listQuery(opts, false) }));
  }

  /**
   * Lists page after page with `limit`/`continue` (default 500 a page), yielding each page. Every page is of the same
   * snapshot: the first page's resourceVersion. A `410 Gone` means the snapshot was compacted away: list again.
   */
  async *pages(opts: ListOptions = {}): AsyncGenerator<List<T>> {
    const limit = opts.limit ?? defaultPageSize;
    // The continue token carries the snapshot's version; the server rejects a resourceVersion(Match) beside it.
    const { resourceVersion, resourceVersionMatch, ...rest } = opts;
    let query: ListOptions = opts.continue ? { ...rest, limit } : { ...opts, limit };
    for (;;) {
      const page = await this.list(query);
      yield page;
      const token = page.metadata?.continue;
      if (!token) return;
      query = { ...rest, limit, continue: token };
    }
  }

  /** Every object, page by page, without holding more than a page in memory. */
  async *listAll(opts: ListOptions = {}): AsyncGenerator<T> {
    for await (const page of this.pages(opts)) yield* page.items ?? [];
  }

  /**
   * One watch request as an async iterable of events. It ends when the server ends the watch (timeout) or `signal`
   * fires (an `Aborted` error; its own `timeoutMs` gives a `Timeout` error); an expired resourceVersion arrives as an
   * `ERROR` event with a `Gone` error. The request goes out on the first `next()`. Re-watching and relisting are the
   * informer's job (`src/cache`), not this call's.
   */
  watch(opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    return eachEvent(this.watchBatches(opts), opts, `WATCH ${this.#path()}`);
  }

  /**
   * {@link ResourceClient.watch} with the events of each network read delivered together (never an empty batch): one step per read
   * rather than per event, which is what informers use to keep up with a fast stream.
   */
  watchBatches(opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>[]> {
    return this.#watch(opts, undefined, (obj) => obj as T);
  }

  /**
   * A watch whose events are pushed to `sink` as each network read arrives: split, parsed and decoded in one
   * synchronous pass per read, with no promise or async step per read or per event. The request goes out at once;
   * {@link WatchSubscription.pause} stops reading (the server then holds what follows) until
   * {@link WatchSubscription.resume}. Errors as {@link ResourceClient.watch}'s, given to `sink.error`.
   */
  watchPush(opts: WatchOptions, sink: WatchSink<T>): WatchSubscription {
    return this.#push(opts, undefined, (obj) => obj as T, sink);
  }

  /** {@link ResourceClient.watchPush} of metadata only, as {@link ResourceClient.watchMetadata}. */
  watchMetadataPush(opts: WatchOptions, sink: WatchSink<PartialObjectMetadata>): WatchSubscription {
    return this.#push(opts, metaAccept("PartialObjectMetadata"), toPartialObjectMetadata, sink);
  }

  /** The batches of a pushed watch as an async generator; the request goes out on the first `next()`. */
  async *#watch<E>(
    opts: WatchOptions,
    accept: string | undefined,
    convert: (obj: unknown, request: string) => E,
    extraQuery: Query = {},
  ): AsyncGenerator<WatchEvent<E>[]> {
    const request = `WATCH ${this.#path()}`;
    const queue: WatchEvent<E>[][] = [];
    let failure: ApiError | undefined;
    let ended = false;
    let wake: (() => void) | undefined;
    const woken = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    let paused = false;
    const sub = this.#push(
      opts,
      accept,
      convert,
      {
        events: (batch) => {
          queue.push(batch);
          // One read ahead at most: the rest waits in the socket and at the server until this one is taken.
          if (!paused) {
            paused = true;
            sub.pause();
          }
          woken();
        },
        end: () => {
          ended = true;
          woken();
        },
        error: (err) => {
          failure = err;
          woken();
        },
      },
      extraQuery,
    );
    try {
      for (;;) {
        const batch = queue.shift();
        if (batch) {
          // Lines already read may still be queued: none is delivered once the caller has asked to stop.
          if (opts.signal?.aborted) throw watchAborted(request, opts.signal.reason);
          yield batch;
          continue;
        }
        if (failure) throw failure;
        if (ended) return;
        if (paused) {
          paused = false;
          // A stream may hand over what it held at once, from within resume(): look again before waiting.
          sub.resume();
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    } finally {
      sub.close();
    }
  }

  #push<E>(
    opts: WatchOptions,
    accept: string | undefined,
    convert: (obj: unknown, request: string) => E,
    sink: WatchSink<E>,
    extraQuery: Query = {},
  ): WatchSubscription {
    const path = this.#path();
    const watch = new PushedWatch(`WATCH ${path}`, opts, convert, sink);
    watch.opened(
      this.transport.stream({
        path,
        query: { ...listQuery(opts, true), ...extraQuery },
        maxRetries: opts.maxRetries,
        signal: watch.signal,
        accept: accept || undefined,
      }),
    );
    return watch;
  }

  /** Creates an object; its namespace is this client's, else the object's own. */
  async create(obj: T, opts: WriteOptions = {}): Promise<T> {
    const scoped = this.#carrying(obj);
    const path = this.#path(undefined, undefined, scoped.ns);
    return this.#json("POST", path, opts, { body: obj, query: writeQuery(opts) }, scoped);
  }

  /** Replaces an object (optimistic concurrency: a stale `metadata.resourceVersion` is a Conflict). */
  async update(obj: T, opts: WriteOptions = {}): Promise<T> {
    const scoped = this.#carrying(obj);
    const path = this.#path(nameOf(obj, "update"), undefined, scoped.ns);
    return this.#json("PUT", path, opts, { body: obj, query: writeQuery(opts) }, scoped);
  }

  /** Replaces an object's status through the status subresource; spec changes in `obj` are ignored by the server. */
  async updateStatus(obj: T, opts: WriteOptions = {}): Promise<T> {
    const scoped = this.#carrying(obj);
    const path = this.#path(nameOf(obj, "updateStatus"), "status", scoped.ns);
    return this.#json("PUT", path, opts, { body: obj, query: writeQuery(opts) }, scoped);
  }

  /** Patches an object: a JSON patch (operations), a merge patch, a strategic merge (built-in kinds), an apply. */
  async patch(name: string, patch: unknown, type: PatchType, opts: PatchOptions = {}): Promise<T> {
    return this.#patch(name, undefined, patch, type, opts);
  }

  /** Patches an object's status subresource. */
  async patchStatus(name: string, patch: unknown, type: PatchType, opts: PatchOptions = {}): Promise<T> {
    return this.#patch(name, "status", patch, type, opts);
  }

  async #patch<R = T>(
    name: string,
    sub: string | undefined,
    patch: unknown,
    type: PatchType,
    opts: PatchOptions,
    scoped: Scoped = this.#byName,
  ): Promise<R> {
    if (!(type in patchContentTypes)) {
      throw new TypeError(`unknown patch type ${JSON.stringify(type)}: use json, merge, strategic or apply`);
    }
    if (type === "apply" && !opts.fieldManager) {
      throw new TypeError("server-side apply needs a fieldManager: pass { fieldManager: 'my-controller' }");
    }
    if (type !== "apply" && opts.force !== undefined) {
      throw new TypeError("force is for server-side apply only: drop it, or use the apply patch type");
    }
    const path = this.#path(name, sub, scoped.ns);
    const extra = { body: patch, contentType: patchContentTypes[type], query: writeQuery(opts) };
    try {
      return await this.#json<R>("PATCH", path, opts, extra, scoped);
    } catch (err) {
      // Only built-in kinds have the Go struct tags a strategic merge needs; the server just lists the types it takes.
      if (type === "strategic" && err instanceof ApiError && err.kind === "UnsupportedMediaType") {
        const hint = `${qualifiedName(this.gvr)} takes no strategic merge patch (built-in kinds only): use a "merge" or "json" patch, or server-side "apply"`;
        throw withHint(err, hint);
      }
      throw err;
    }
  }

  /** Server-side apply of `obj` (the fields this manager wants); conflicts with other managers fail unless `force`. */
  async apply(obj: ApplyObject<T>, opts: PatchOptions & { fieldManager: string }): Promise<T> {
    return this.#patch(nameOf(obj, "apply"), undefined, obj, "apply", opts, this.#carrying(obj));
  }

  /** Server-side apply to the status subresource. */
  async applyStatus(obj: ApplyObject<T>, opts: PatchOptions & { fieldManager: string }): Promise<T> {
    return this.#patch(nameOf(obj, "applyStatus"), "status", obj, "apply", opts, this.#carrying(obj));
  }

  /**
   * Deletes an object. Returns the object while finalizers hold it (deletionTimestamp set), else the server's Status.
   */
  async delete(name: string, opts: DeleteOptions = {}): Promise<T | Status> {
    return this.#json("DELETE", this.#path(name), opts, deleteRequest(opts), this.#byName);
  }

  /** Deletes every object the selectors match (in this namespace, or cluster-wide for cluster-scoped kinds). */
  async deleteCollection(opts: DeleteCollectionOptions = {}): Promise<List<T> | Status> {
    const { query, ...body } = deleteRequest(opts);
    const selectors = { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };
    return this.#json("DELETE", this.#path(), opts, { ...body, query: { ...query, ...selectors } }, this.#byName);
  }

  /** Reads the scale subresource (`autoscaling/v1 Scale`). */
  async getScale(name: string, opts: GetOptions = {}): Promise<Scale> {
    return this.#json("GET", this.#path(name, "scale"), opts, getQuery(opts), this.#byName);
  }

  /** Replaces the scale subresource: `scale.spec.replicas` is what changes. */
  async updateScale(name: string, scale: Scale, opts: WriteOptions = {}): Promise<Scale> {
    const extra = { body: scale, query: writeQuery(opts) };
    return this.#json("PUT", this.#path(name, "scale"), opts, extra, this.#byName);
  }

  /** Patches the scale subresource, e.g. `{ spec: { replicas: 3 } }` as a merge patch. */
  async patchScale(name: string, patch: unknown, type: PatchType, opts: PatchOptions = {}): Promise<Scale> {
    return this.#patch<Scale>(name, "scale", patch, type, opts);
  }

  /** Reads one object's metadata only. */
  async getMetadata(name: string, opts: GetOptions = {}): Promise<PartialObjectMetadata> {
    const path = this.#path(name);
    const extra = { ...getQuery(opts), accept: metaAccept("PartialObjectMetadata") };
    const obj = await this.#json("GET", path, opts, extra, this.#byName);
    return toPartialObjectMetadata(obj, `GET ${path}`);
  }

  /** Lists metadata only: a fraction of the bytes of a full list for kinds with large specs. */
  async listMetadata(opts: ListOptions = {}): Promise<List<PartialObjectMetadata>> {
    const path = this.#path();
    const list = await this.#json<List>("GET", path, opts, {
      query: listQuery(opts, false),
      accept: metaAccept("PartialObjectMetadataList"),
    });
    return toPartialObjectMetadataList(list, `GET ${path}`);
  }

  /** Watches metadata only. */
  watchMetadata(opts: WatchOptions = {}): AsyncGenerator<WatchEvent<PartialObjectMetadata>> {
    return eachEvent(this.watchMetadataBatches(opts), opts, `WATCH ${this.#path()}`);
  }

  /** {@link ResourceClient.watchMetadata} with the events of each network read delivered together, as {@link ResourceClient.watchBatches}. */
  watchMetadataBatches(opts: WatchOptions = {}): AsyncGenerator<WatchEvent<PartialObjectMetadata>[]> {
    return this.#watch(opts, metaAccept("PartialObjectMetadata"), toPartialObjectMetadata);
  }

  /** The server's Table view (the columns `kubectl get` prints) of a list, or of one object when `name` is given. */
  async table(opts: TableOptions & { name?: string } = {}): Promise<Table> {
    const path = this.#path(opts.name);
    const query = { ...(opts.name ? {} : listQuery(opts, false)), includeObject: opts.includeObject };
    const table = await this.#json<Table>(
      "GET",
      path,
      opts,
      { query, accept: tableAccept },
      opts.name !== undefined ? this.#byName : undefined,
    );
    return asTable(table, `GET ${path}`, this.gvr.resource);
  }

  /**
   * A watch of the server's Table view, as `kubectl get -w` prints it: each event's object is a Table of the one
   * changed object's row. The server sends the column definitions with the first event only.
   */
  watchTable(opts: WatchOptions & Pick<TableOptions, "includeObject"> = {}): AsyncGenerator<WatchEvent<Table>> {
    const request = `WATCH ${this.#path()}`;
    const batches = this.#watch(opts, tableAccept, (obj) => asTable(obj as Table, request, this.gvr.resource), {
      includeObject: opts.includeObject,
    });
    return eachEvent(batches, opts, request);
  }
}

/** `table` checked to be one, with its rows' `"object": null` (includeObject=None) left out, as the type promises. */
function asTable(table: Table, request: string, resource: string): Table {
  // The plain-JSON fallback in Accept lets the server answer with a list when it cannot make a Table.
  if (table.kind !== "Table") {
    const message = `${request}: the server sent a ${String(table.kind)}, not a Table: it does not serve Table views of ${resource}`;
    throw new ApiError({ kind: "NotAcceptable", status: 0, message, request });
  }
  return {
    ...table,
    columnDefinitions: table.columnDefinitions ?? [],
    rows: (table.rows ?? []).map(({ object, ...rest }) => (object ? { ...rest, object } : rest)),
  };
}

function getQuery(opts: GetOptions): { query?: { resourceVersion: string } } {
  return opts.resourceVersion !== undefined ? { query: { resourceVersion: opts.resourceVersion } } : {};
}

function withItemKinds<T extends KubeObject>(list: List<T>): List<T> {
  const kind = typeof list.kind === "string" && list.kind.endsWith("List") ? list.kind.slice(0, -4) : undefined;
  if (!Array.isArray(list.items) || !kind || typeof list.apiVersion !== "string") return list;
  for (const item of list.items) {
    if (item === null || typeof item !== "object") continue;
    if (typeof item.apiVersion !== "string" || !item.apiVersion) item.apiVersion = list.apiVersion;
    if (typeof item.kind !== "string" || !item.kind) item.kind = kind;
  }
  return list;
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
      // JSON leaves out the undefined ones.
      propagationPolicy: opts.propagationPolicy || undefined,
      gracePeriodSeconds: opts.gracePeriodSeconds,
      dryRun: opts.dryRun ? ["All"] : undefined,
    },
  };
}

/** The dynamic client of one cluster: a {@link ResourceClient} for any resource. */
export class DynamicClient {
  readonly transport: Transport;

  constructor(transport: Transport) {
    this.transport = transport;
  }

  /**
   * A client for a resource, cluster-wide (or all namespaces); call `.namespace(ns)` on it for one namespace. Given
   * discovery's `ApiResource` (or any {@link ResourceType} with `namespaced`), it knows the scope and says before any
   * request when a namespaced object is addressed without a namespace.
   */
  resource<T extends KubeObject = KubeObject>(resource: ResourceType): ResourceClient<T> {
    return new ResourceClient<T>(this.transport, resource);
  }
}
