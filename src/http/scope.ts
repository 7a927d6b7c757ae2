/**
 * The cancellation of one call: the caller's `AbortSignal` and the call's deadline folded into one signal whose reason
 * is the {@link ApiError} the caller gets.
 */
import { ApiError } from "./errors.js";

interface Followers {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}

const followers = new WeakMap<AbortSignal, Followers>();

/**
 * Calls `onAbort` when `signal` aborts; returns how to stop. However many calls share one signal (a manager's shutdown
 * signal, a watcher's across re-watches), it carries one listener of ours, and none once they have all ended, so that
 * Node never warns of a listener leak and nothing is kept alive by a long-lived signal.
 */
function follow(signal: AbortSignal, onAbort: () => void): () => void {
  let entry = followers.get(signal);
  if (!entry) {
    const callbacks = new Set<() => void>();
    const listener = () => {
      followers.delete(signal);
      for (const callback of callbacks) callback();
    };
    entry = { callbacks, listener };
    followers.set(signal, entry);
    signal.addEventListener("abort", listener, { once: true });
  }
  const own = entry;
  const callback = () => onAbort();
  own.callbacks.add(callback);
  return () => {
    own.callbacks.delete(callback);
    if (own.callbacks.size === 0 && followers.get(signal) === own) {
      followers.delete(signal);
      signal.removeEventListener("abort", own.listener);
    }
  };
}

/** One call's signal, deadline and last failed attempt. */
export class CallScope {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal | undefined;
  /** The call, as "METHOD path". */
  readonly request: string;
  #timer: NodeJS.Timeout | undefined;
  #deadline: number | undefined;
  #timeoutMs = 0;
  readonly #unfollow: () => void;
  /** The error of the last failed attempt, carried as the cause of a later timeout or abort. */
  lastError: ApiError | undefined;

  constructor(caller: AbortSignal | undefined, request: string) {
    this.#caller = caller;
    this.request = request;
    if (caller?.aborted) this.#onCallerAbort();
    this.#unfollow = caller && !caller.aborted ? follow(caller, this.#onCallerAbort) : () => {};
  }

  /** Aborts when the caller aborts or the deadline passes; its reason is then an {@link ApiError}. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** When the deadline passes (`performance.now()` time), if there is one. */
  get deadline(): number | undefined {
    return this.#deadline;
  }

  /** Starts the deadline: `ms` from now (0: none). */
  startDeadline(ms: number): void {
    if (ms <= 0 || this.signal.aborted) return;
    this.#timeoutMs = ms;
    this.#deadline = performance.now() + ms;
    this.#timer = setTimeout(this.#onTimeout, ms);
  }

  /** Ends the deadline (a stream's headers are in; it may now run for as long as the caller likes). */
  endDeadline(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#deadline = undefined;
  }

  /** Releases the caller's signal and the timer; the scope's signal no longer fires. */
  dispose(): void {
    this.endDeadline();
    this.#unfollow();
  }

  /** Ends the call now with `reason` (the transport was closed). */
  abort(reason: ApiError): void {
    if (!this.signal.aborted) this.#controller.abort(reason);
  }

  /** The error to throw once the signal fired. */
  get reason(): ApiError {
    return this.signal.reason as ApiError;
  }

  readonly #onCallerAbort = (): void => {
    this.abort(
      new ApiError({
        kind: "Aborted",
        status: 0,
        message: `${this.request} was aborted by its AbortSignal`,
        request: this.request,
        cause: this.#caller?.reason,
      }),
    );
  };

  readonly #onTimeout = (): void => {
    const last = this.lastError ? `; the last attempt failed: ${this.lastError.message}` : "";
    this.abort(
      new ApiError({
        kind: "Timeout",
        status: 0,
        message: `${this.request} did not complete within ${this.#timeoutMs} ms${last}: raise timeoutMs if the server is slow, or check that it is reachable`,
        request: this.request,
        cause: this.lastError,
      }),
    );
  };
}

/** Waits `ms`, or rejects with the scope's reason when its signal fires first. */
export function sleep(ms: number, scope: CallScope): Promise<void> {
  const signal = scope.signal;
  if (signal.aborted) return Promise.reject(scope.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(scope.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
