/**
 * The cancellation of one call: the caller's `AbortSignal` and the call's deadline folded into one signal whose reason
 * is the {@link ApiError} the caller gets. Listeners on the caller's signal are removed when the call ends, so that one
 * long-lived signal (a watcher's, across many re-watches) does not collect them.
 */
import { ApiError } from "./errors.js";

/** One call's signal, deadline and last failed attempt. */
export class CallScope {
  readonly #controller = new AbortController();
  readonly #caller: AbortSignal | undefined;
  /** The call, as "METHOD path". */
  readonly request: string;
  #timer: NodeJS.Timeout | undefined;
  #deadline: number | undefined;
  #timeoutMs = 0;
  /** The error of the last failed attempt, carried as the cause of a later timeout or abort. */
  lastError: ApiError | undefined;

  constructor(caller: AbortSignal | undefined, request: string) {
    this.#caller = caller;
    this.request = request;
    if (caller?.aborted) this.#onCallerAbort();
    else caller?.addEventListener("abort", this.#onCallerAbort, { once: true });
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
    this.#caller?.removeEventListener("abort", this.#onCallerAbort);
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
        ...(this.lastError ? { cause: this.lastError } : {}),
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
