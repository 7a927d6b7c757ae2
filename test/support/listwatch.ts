/**
 * A scripted, in-memory {@link ListWatch} for unit tests of the watcher and informer state machines: each list call
 * takes the next scripted reply, each watch call opens a {@link ScriptedWatch} the test feeds event by event. It is not
 * an API server: it knows nothing of resource versions or selectors, it replays what the test says, and records every
 * call so that tests can count them.
 */

import type { ListWatch, WatcherEvent } from "../../src/cache/watcher.js";
import type { ListOptions, WatchEvent, WatchOptions } from "../../src/client/options.js";
import { ApiError, type ErrorKind } from "../../src/http/errors.js";
import type { Recovery } from "../../src/http/recovery.js";
import type { KubeObject, List } from "../../src/object/types.js";

/** An ApiError as the client would raise it. */
export function apiError(kind: ErrorKind, status = 0, message = `scripted ${kind}`): ApiError {
  return new ApiError({ kind, status, message });
}

/** A ConfigMap-like object. */
export function obj(
  name: string,
  resourceVersion: string,
  extra: { uid?: string; namespace?: string; labels?: Record<string, string>; data?: Record<string, string> } = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name,
      namespace: extra.namespace ?? "ns",
      uid: extra.uid ?? `uid-${name}`,
      resourceVersion,
      ...(extra.labels ? { labels: extra.labels } : {}),
      managedFields: [{ manager: "test" }],
    },
    ...(extra.data ? { data: extra.data } : {}),
  };
}

/** One page of a list. */
export function page(resourceVersion: string, items: KubeObject[], continueToken?: string): List<KubeObject> {
  return {
    apiVersion: "v1",
    kind: "ConfigMapList",
    metadata: { resourceVersion, ...(continueToken ? { continue: continueToken } : {}) },
    items,
  };
}

/** A BOOKMARK event; `initialEnd` marks the end of a streaming list. */
export function bookmark(resourceVersion: string, initialEnd = false): WatchEvent<KubeObject> {
  return {
    type: "BOOKMARK",
    object: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { resourceVersion, ...(initialEnd ? { annotations: { "k8s.io/initial-events-end": "true" } } : {}) },
    },
  };
}

/** An ERROR event carrying `error`. */
export function errorEvent(error: ApiError): WatchEvent<KubeObject> {
  return { type: "ERROR", error, object: { kind: "Status" } };
}

type Item<T> = { events: WatchEvent<T>[] } | { end: true } | { error: unknown };
type Waiter<T> = { max: number; resolve: (r: IteratorResult<WatchEvent<T>[]>) => void; reject: (err: unknown) => void };

/**
 * One watch call: the test pushes events into it, ends it or fails it; it records whether it was closed. The events of
 * one {@link push} are one network read: a batched reader ({@link ScriptedListWatch.watchBatches}) gets them together.
 * It tells `opts.onOpen` when first read, as the server's accepting it would, unless its first news is a failure (a
 * refused request, which never opened).
 */
export class ScriptedWatch<T extends KubeObject = KubeObject> implements AsyncIterableIterator<WatchEvent<T>> {
  readonly opts: WatchOptions;
  /** Whether the consumer called return(). */
  returned = false;
  readonly #items: Item<T>[] = [];
  #waiter: Waiter<T> | undefined;
  #done = false;
  #read = false;

  constructor(opts: WatchOptions, honorSignal: boolean) {
    this.opts = opts;
    if (honorSignal) {
      opts.signal?.addEventListener("abort", () => this.fail(apiError("Aborted", 0, "scripted watch aborted")), {
        once: true,
      });
    }
  }

  /** Sends events, as one read. */
  push(...events: WatchEvent<T>[]): this {
    if (events.length > 0) this.#offer({ events });
    return this;
  }

  /** Ends the stream as a server timeout would. */
  end(): this {
    this.#offer({ end: true });
    return this;
  }

  /** Breaks the stream with an error, as a cut connection would. */
  fail(error: unknown): this {
    this.#offer({ error });
    return this;
  }

  #offer(item: Item<T>): void {
    if (this.#done) return;
    const waiter = this.#waiter;
    if (!waiter) {
      this.#items.push(item);
      return;
    }
    this.#waiter = undefined;
    this.#settle(item, waiter);
  }

  #settle(item: Item<T>, waiter: Waiter<T>): void {
    if ("events" in item) {
      // A reader of single events takes a read's events one at a time: the rest waits for its next call.
      if (item.events.length > waiter.max) this.#items.unshift({ events: item.events.slice(waiter.max) });
      waiter.resolve({ done: false, value: item.events.slice(0, waiter.max) });
      return;
    }
    this.#done = true;
    if ("end" in item) waiter.resolve({ done: true, value: undefined });
    else waiter.reject(item.error);
  }

  #take(max: number): Promise<IteratorResult<WatchEvent<T>[]>> {
    if (this.#done) return Promise.resolve({ done: true, value: undefined });
    if (!this.#read) {
      this.#read = true;
      const first = this.#items[0];
      if (!first || !("error" in first)) this.opts.onOpen?.();
    }
    return new Promise((resolve, reject) => {
      const item = this.#items.shift();
      if (item) this.#settle(item, { max, resolve, reject });
      else this.#waiter = { max, resolve, reject };
    });
  }

  async next(): Promise<IteratorResult<WatchEvent<T>>> {
    const r = await this.#take(1);
    return r.done ? r : { done: false, value: r.value[0] as WatchEvent<T> };
  }

  return(): Promise<IteratorResult<WatchEvent<T>>> {
    this.returned = true;
    this.#done = true;
    this.#waiter?.resolve({ done: true, value: undefined });
    this.#waiter = undefined;
    return Promise.resolve({ done: true, value: undefined });
  }

  /** The same stream read by reads: each {@link push} arrives as one batch. */
  batches(): AsyncIterableIterator<readonly WatchEvent<T>[]> {
    const reads: AsyncIterableIterator<readonly WatchEvent<T>[]> = {
      next: () => this.#take(Number.POSITIVE_INFINITY),
      return: async () => {
        await this.return();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => reads,
    };
    return reads;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** A reply to a list call: a page, an error to throw, or a function of the call's options. */
export type ListReply<T extends KubeObject> =
  | List<T>
  | Error
  | ((opts: ListOptions) => List<T> | Promise<List<T>> | Error);

/** The scripted source; see the module comment. */
export class ScriptedListWatch<T extends KubeObject = KubeObject> implements ListWatch<T> {
  readonly description = "configmaps/v1 (scripted)";
  /** Every list call's options, in order. */
  readonly lists: ListOptions[] = [];
  /** Every watch opened, in order. */
  readonly watches: ScriptedWatch<T>[] = [];
  readonly #listReplies: ListReply<T>[] = [];
  readonly #watchScripts: ((w: ScriptedWatch<T>) => void)[] = [];
  /** Used when no list reply is scripted; default: a server error. */
  defaultList: ListReply<T> = apiError("InternalError", 500, "no list reply scripted");
  /** Run on each watch opened once the scripted ones are used up; default: the watch stays open and silent. */
  defaultWatch: (w: ScriptedWatch<T>) => void = () => {};
  /** Whether watches end when their signal aborts, as the real client's do. */
  honorSignal = true;
  /** What wakes the watcher's backoff when the server answers again; none: the backoff is waited out. */
  recovery: Recovery | undefined;
  /** Present when made with `{ reads: true }`: the watcher then reads each push of a watch as one batch. */
  readonly watchBatches?: (opts: WatchOptions) => AsyncIterable<readonly WatchEvent<T>[]>;

  /** With `reads`, the source also offers the batched watch, as the real client does. */
  constructor(options: { reads?: boolean } = {}) {
    if (options.reads) this.watchBatches = (opts) => this.#open(opts).batches();
  }

  /** Queues replies for the next list calls. */
  replyToList(...replies: ListReply<T>[]): this {
    this.#listReplies.push(...replies);
    return this;
  }

  /** Queues scripts run on the next watches as they open (e.g. `w => w.push(...).end()`). */
  onWatch(...scripts: ((w: ScriptedWatch<T>) => void)[]): this {
    this.#watchScripts.push(...scripts);
    return this;
  }

  /** The most recent watch. */
  get lastWatch(): ScriptedWatch<T> | undefined {
    return this.watches[this.watches.length - 1];
  }

  async list(opts: ListOptions): Promise<List<T>> {
    this.lists.push(opts);
    const reply = this.#listReplies.shift() ?? this.defaultList;
    const value = typeof reply === "function" ? await reply(opts) : reply;
    if (value instanceof Error) throw value;
    return structuredClone(value);
  }

  watch(opts: WatchOptions): AsyncIterable<WatchEvent<T>> {
    return this.#open(opts);
  }

  #open(opts: WatchOptions): ScriptedWatch<T> {
    const w = new ScriptedWatch<T>(opts, this.honorSignal);
    this.watches.push(w);
    (this.#watchScripts.shift() ?? this.defaultWatch)(w);
    return w;
  }
}

/** A watch event of each type, for scripts. */
export const added = (o: KubeObject): WatchEvent<KubeObject> => ({ type: "ADDED", object: o });
export const modified = (o: KubeObject): WatchEvent<KubeObject> => ({ type: "MODIFIED", object: o });
export const deleted = (o: KubeObject): WatchEvent<KubeObject> => ({ type: "DELETED", object: o });

/** A short, comparable form of an event. */
export function show(e: WatcherEvent<KubeObject>): string {
  switch (e.type) {
    case "init-start":
      return `init-start ${e.reason}${e.streaming ? " streaming" : ""}`;
    case "init-object":
    case "apply":
    case "delete":
      return `${e.type} ${e.object.metadata.name}@${e.object.metadata.resourceVersion}`;
    case "init-done":
    case "bookmark":
      return `${e.type} ${e.resourceVersion}`;
    case "error":
      return `error ${e.error.kind}`;
  }
}
