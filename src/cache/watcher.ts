/**
 * The watcher: list, then watch, forever, as one async iterable of explicit events. Disconnects, server timeouts,
 * `410 Gone`, restarts and errors are handled inside; the caller sees them only as `init-*` events (a relist) and
 * `error` events (reported, then retried with backoff). It ends only when its signal aborts or its consumer stops.
 *
 * The shape follows kube-rs's `watcher()` (explicit init start/page/done events); the semantics follow client-go's
 * Reflector (re-watch from the last resourceVersion, relist on Gone, bookmarks, streaming lists).
 */
import type { ListOptions, WatchEvent, WatchOptions } from "../client/options.js";
import type { ResourceClient } from "../client/resource.js";
import { ApiError } from "../http/errors.js";
import type { KubeObject, List } from "../object/types.js";
import { Backoff, type BackoffOptions, delay } from "./backoff.js";

/** What a watcher watches: a list and a watch of the same selection. */
export interface ListWatch<T extends KubeObject> {
  list(opts: ListOptions): Promise<List<T>>;
  watch(opts: WatchOptions): AsyncIterable<WatchEvent<T>>;
  /** For messages: e.g. "widgets.v1.example.com in namespace demo". */
  readonly description: string;
}

/** Which objects of a resource to watch, and whether only their metadata. */
export interface Selection {
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  /** Watch `PartialObjectMetadata` only: far less data for kinds with large specs. */
  readonly metadataOnly?: boolean;
}

/** The {@link ListWatch} of a resource client (one namespace or all) with a selection. */
export function listWatchOf(client: ResourceClient, selection: Selection = {}): ListWatch<KubeObject> {
  const sel = {
    ...(selection.labelSelector ? { labelSelector: selection.labelSelector } : {}),
    ...(selection.fieldSelector ? { fieldSelector: selection.fieldSelector } : {}),
  };
  const ns = client.namespaceName ? ` in namespace ${client.namespaceName}` : "";
  const { group, version, resource } = client.gvr;
  return {
    description: `${resource}${group ? `.${group}` : ""}/${version}${ns}`,
    list: (opts) =>
      selection.metadataOnly ? client.listMetadata({ ...opts, ...sel }) : client.list({ ...opts, ...sel }),
    watch: (opts) =>
      selection.metadataOnly ? client.watchMetadata({ ...opts, ...sel }) : client.watch({ ...opts, ...sel }),
  };
}

/** Why the watcher is (re)building its initial state. */
export type InitReason = "initial" | "relist";

/** What a watcher yields. */
export type WatcherEvent<T> =
  /** A (re)list begins; the objects that follow in `init-object` events replace everything known before. */
  | { readonly type: "init-start"; readonly reason: InitReason; readonly streaming: boolean }
  | { readonly type: "init-object"; readonly object: T }
  /** The (re)list is complete: what was not in it no longer exists. */
  | { readonly type: "init-done"; readonly resourceVersion: string }
  /** An object was added or changed while watching. */
  | { readonly type: "apply"; readonly object: T }
  /** An object was deleted while watching; `object` is its final state. */
  | { readonly type: "delete"; readonly object: T }
  | { readonly type: "bookmark"; readonly resourceVersion: string }
  /** Something failed; the watcher retries by itself after `retryInMs`. */
  | { readonly type: "error"; readonly error: ApiError; readonly retryInMs: number };

/** Tuning of a {@link watcher}. */
export interface WatcherOptions {
  readonly signal?: AbortSignal;
  /** Page size of the initial list; default 500. */
  readonly pageSize?: number;
  /**
   * Build the initial state with a streaming list (`sendInitialEvents`) rather than a paginated list: "auto" (default)
   * tries it and falls back for good when the server refuses it.
   */
  readonly streamingList?: boolean | "auto";
  /** Server-side watch timeout is drawn from [min, 2 × min) seconds so that watchers do not reconnect in step; default 300. */
  readonly minWatchTimeoutSeconds?: number;
  /** A watch that sends nothing for this long is presumed dead (half-open connection) and reopened; default 90 s. */
  readonly idleTimeoutMs?: number;
  readonly backoff?: BackoffOptions;
}

function resourceVersionOf(obj: unknown): string | undefined {
  const rv = (obj as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
  return typeof rv === "string" && rv ? rv : undefined;
}

function isInitialEventsEnd(obj: unknown): boolean {
  const annotations = (obj as { metadata?: { annotations?: Record<string, unknown> } } | null)?.metadata?.annotations;
  return annotations?.["k8s.io/initial-events-end"] === "true";
}

function toApiError(err: unknown, description: string): ApiError {
  if (err instanceof ApiError) return err;
  const message = `${description}: ${err instanceof Error ? err.message : String(err)}`;
  return new ApiError({ kind: "Unknown", status: 0, message, cause: err });
}

/** The server refused a streaming list: it does not have the WatchList feature, or cannot serve it now. */
function refusesStreaming(err: ApiError): boolean {
  return err.kind === "Invalid" || err.kind === "BadRequest" || err.kind === "MethodNotAllowed";
}

/** Lists then watches `source` forever; see the module comment. */
export async function* watcher<T extends KubeObject>(
  source: ListWatch<T>,
  options: WatcherOptions = {},
): AsyncGenerator<WatcherEvent<T>> {
  const signal = options.signal;
  const backoff = new Backoff(options.backoff);
  const minTimeout = options.minWatchTimeoutSeconds ?? 300;
  const idleTimeoutMs = options.idleTimeoutMs ?? 90_000;
  let streaming = options.streamingList ?? "auto";
  let resourceVersion: string | undefined;
  let reason: InitReason = "initial";
  /** A watch stream that a streaming list opened and that goes on as the live watch. */
  let carried: AsyncIterator<WatchEvent<T>> | undefined;

  const openWatch = (opts: WatchOptions): AsyncIterator<WatchEvent<T>> => {
    const idle = new IdleGuard(idleTimeoutMs, signal);
    const events = source.watch({
      allowWatchBookmarks: true,
      timeoutSeconds: Math.floor(minTimeout * (1 + Math.random())),
      signal: idle.signal,
      ...opts,
    });
    return idle.wrap(events[Symbol.asyncIterator]());
  };

  try {
    yield* loop();
  } finally {
    await carried?.return?.();
  }

  async function* loop(): AsyncGenerator<WatcherEvent<T>> {
    while (!signal?.aborted) {
      let iterator = carried;
      carried = undefined;
      try {
        if (resourceVersion === undefined) {
          if (streaming !== false) {
            yield { type: "init-start", reason, streaming: true };
            iterator = openWatch({
              sendInitialEvents: true,
              resourceVersionMatch: "NotOlderThan",
              resourceVersion: "",
            });
            let done = false;
            try {
              while (!done) {
                const next = await iterator.next();
                if (next.done)
                  throw new ApiError({ kind: "Network", status: 0, message: "streaming list ended early" });
                const event = next.value;
                if (event.type === "ERROR") throw event.error;
                if (event.type === "BOOKMARK") {
                  if (!isInitialEventsEnd(event.object)) continue;
                  resourceVersion = resourceVersionOf(event.object) ?? "";
                  done = true;
                } else if (event.type !== "DELETED") {
                  yield { type: "init-object", object: event.object };
                }
              }
            } catch (err) {
              await iterator.return?.();
              const error = toApiError(err, source.description);
              if (streaming === "auto" && refusesStreaming(error)) {
                streaming = false;
                continue;
              }
              throw error;
            }
            reason = "relist";
            carried = iterator;
            yield { type: "init-done", resourceVersion: resourceVersion ?? "" };
            continue;
          }
          yield { type: "init-start", reason, streaming: false };
          let token: string | undefined;
          let listVersion = "";
          do {
            const page = await source.list({
              limit: options.pageSize ?? 500,
              ...(token ? { continue: token } : {}),
              ...(signal ? { signal } : {}),
            });
            for (const object of page.items ?? []) yield { type: "init-object", object };
            token = page.metadata?.continue || undefined;
            listVersion = page.metadata?.resourceVersion ?? listVersion;
          } while (token);
          resourceVersion = listVersion;
          yield { type: "init-done", resourceVersion };
          reason = "relist";
          continue;
        }

        iterator ??= openWatch({ resourceVersion });
        backoff.healthy();
        try {
          for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
            const event = next.value;
            if (event.type === "ERROR") throw event.error;
            const rv = resourceVersionOf(event.object);
            if (rv) resourceVersion = rv;
            if (event.type === "BOOKMARK") yield { type: "bookmark", resourceVersion };
            else if (event.type === "DELETED") yield { type: "delete", object: event.object };
            else yield { type: "apply", object: event.object };
          }
        } finally {
          await iterator.return?.();
        }
      } catch (err) {
        if (signal?.aborted) return;
        const error = toApiError(err, source.description);
        if (error.kind === "Gone") {
          // Our resourceVersion was compacted away: only a fresh list can say what exists now.
          resourceVersion = undefined;
          yield { type: "error", error, retryInMs: 0 };
          continue;
        }
        if (error.kind === "Timeout" && resourceVersion !== undefined && error.status === 0) {
          // An idle watch reopened: nothing is wrong that a re-watch from the same version does not cure.
          continue;
        }
        const retryInMs = backoff.next();
        yield { type: "error", error, retryInMs };
        await delay(retryInMs, signal);
      }
    }
  }
}

/**
 * Aborts a watch that has received nothing for `ms`: a half-open connection never ends by itself. The timer is reset
 * on every event.
 */
class IdleGuard {
  readonly #controller = new AbortController();
  readonly #ms: number;
  #timer: NodeJS.Timeout | undefined;
  #idle = false;

  readonly #parent: AbortSignal | undefined;
  readonly #onParentAbort = () => this.#controller.abort(this.#parent?.reason);

  constructor(ms: number, parent?: AbortSignal) {
    this.#ms = ms;
    this.#parent = parent;
    parent?.addEventListener("abort", this.#onParentAbort, { once: true });
    this.#arm();
  }

  /** Stops the timer and forgets the parent signal, so that a long-lived signal does not collect dead watches. */
  #release(): void {
    clearTimeout(this.#timer);
    this.#parent?.removeEventListener("abort", this.#onParentAbort);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#idle = true;
      this.#controller.abort();
    }, this.#ms);
    this.#timer.unref?.();
  }

  wrap<E>(inner: AsyncIterator<E>): AsyncIterator<E> {
    return {
      next: async () => {
        try {
          const result = await inner.next();
          if (result.done) this.#release();
          else this.#arm();
          return result;
        } catch (err) {
          this.#release();
          if (this.#idle) {
            throw new ApiError({ kind: "Timeout", status: 0, message: `watch idle for ${this.#ms} ms`, cause: err });
          }
          throw err;
        }
      },
      return: async () => {
        this.#release();
        this.#controller.abort();
        return (await inner.return?.()) ?? { done: true, value: undefined };
      },
    };
  }
}
