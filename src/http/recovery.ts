/**
 * Noticing that a cluster answers again. Callers that back off after the server stopped answering wait here; while at
 * least one does, one cheap probe per transport (`GET /readyz`, with the transport's credentials and TLS) asks about
 * once a second whether it is back, and once it is, wakes them, spread over a short window so that hundreds of
 * watchers do not reconnect in the same instant. Without it a watcher whose backoff grew to 15–25 s during an outage
 * would sit out that time after the server returned (as client-go's reflector does).
 *
 * The backoff still protects the server: a waiter is woken early only after the probe has seen the server not
 * answering and then answering, so a server that answers the probe but fails the requests themselves keeps its clients
 * at their backoff, and a server that answers with a refusal (`403`, `404`, `429`) is never probed for.
 */
import { ApiError } from "./errors.js";

/**
 * Whether `error` means that the server did not answer, or answered that it cannot serve now: no response (a refused,
 * reset or timed-out connection) or a `5xx`. These are the failures whose end a probe can see.
 */
export function isOutage(error: ApiError): boolean {
  if (error.status === 0) return (error.kind === "Network" && error.transient) || error.kind === "Timeout";
  return error.status >= 500;
}

/** Tuning of a {@link Recovery}. */
export interface RecoveryOptions {
  /** Least time between the starts of two probes; each gap is drawn from [interval, 1.25 × interval). Default 1 s. */
  readonly intervalMs?: number | undefined;
  /** How much the window that woken waiters are spread over grows with each of them; default 10 ms. */
  readonly spreadPerWaiterMs?: number | undefined;
  /** The widest that window gets; default 1 s. */
  readonly maxSpreadMs?: number | undefined;
  /** A number in [0, 1) for the gaps' and the window's jitter; default `Math.random`. */
  readonly random?: (() => number) | undefined;
}

/** How {@link Recovery.wait} waits. */
export interface RecoveryWaitOptions {
  readonly signal?: AbortSignal | undefined;
  /** No wake-up before this many ms: what the server asked for with `Retry-After`. */
  readonly notBeforeMs?: number | undefined;
}

/** What a probe learnt: the server answers, it does not, or nothing (a refusal that says nothing of its health). */
type Seen = "up" | "down" | undefined;

interface Waiter {
  readonly due: number;
  readonly notBefore: number;
  /** The server was seen not answering since this waiter began: an answer now means that it came back. */
  sawDown: boolean;
  /** Ends the wait `ms` from now instead of when it is due. */
  readonly wakeIn: (ms: number) => void;
}

/**
 * The wake-up of one cluster's backoffs (see the module comment). {@link Transport.recovery} is the transport's; the
 * watcher waits on it between retries.
 */
export class Recovery {
  readonly #probe: (signal: AbortSignal) => Promise<unknown>;
  readonly #intervalMs: number;
  readonly #spreadPerWaiterMs: number;
  readonly #maxSpreadMs: number;
  readonly #random: () => number;
  /** Waiters on an outage that the probe has not woken yet: the probe runs while there is one. */
  readonly #waiting = new Set<Waiter>();
  /** What the last probe learnt, kept while the probe sleeps: a waiter that comes while it says "down" saw it down. */
  #state: Seen;
  #nextProbeAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: AbortController | undefined;
  #closed = false;
  #probes = 0;

  /** `probe` resolves when the server answers in good health and rejects with an {@link ApiError} otherwise. */
  constructor(probe: (signal: AbortSignal) => Promise<unknown>, options: RecoveryOptions = {}) {
    this.#probe = probe;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#spreadPerWaiterMs = options.spreadPerWaiterMs ?? 10;
    this.#maxSpreadMs = options.maxSpreadMs ?? 1000;
    this.#random = options.random ?? Math.random;
  }

  /** Probes sent so far. */
  get probes(): number {
    return this.#probes;
  }

  /** How many waits the probe works for now (outages not yet over). */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Whether a probe is in flight or scheduled. */
  get probing(): boolean {
    return this.#timer !== undefined || this.#inFlight !== undefined;
  }

  /**
   * Waits `ms` after `failure`, or less when the failure is an outage (no connection, a timeout, or a 5xx answer) and the server is seen
   * answering again: then at a random point of a window that grows with the number of waiters woken together (10 ms
   * each, at most 1 s), never past `ms` nor before `notBeforeMs`. Resolves false when `signal` aborts, else true.
   */
  wait(failure: ApiError, ms: number, options: RecoveryWaitOptions = {}): Promise<boolean> {
    const { signal } = options;
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve(false);
      if (ms <= 0) return resolve(true);
      // A wait no longer than the probe's interval ends before the probe could see the server go and come back, unless
      // it is already seen down: it starts no probe (a lone reset connection costs no request).
      const outage = !this.#closed && isOutage(failure) && (ms > this.#intervalMs || this.#state === "down");
      const now = Date.now();
      let timer = setTimeout(() => finish(true), ms);
      const onAbort = () => finish(false);
      const waiter: Waiter = {
        due: now + ms,
        notBefore: now + Math.min(options.notBeforeMs ?? 0, ms),
        sawDown: this.#state === "down",
        wakeIn: (early) => {
          clearTimeout(timer);
          timer = setTimeout(() => finish(true), early);
        },
      };
      const finish = (elapsed: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#leave(waiter);
        resolve(elapsed);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      if (!outage) return;
      this.#waiting.add(waiter);
      this.#schedule();
    });
  }

  /** Stops probing for good; waits go on as plain timers. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#inFlight?.abort();
    this.#waiting.clear();
  }

  #leave(waiter: Waiter): void {
    if (!this.#waiting.delete(waiter) || this.#waiting.size > 0) return;
    // Nobody waits on an outage: no more probes (a probe in flight still reports, for whoever comes next).
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined || this.#inFlight !== undefined || this.#waiting.size === 0) return;
    this.#timer = setTimeout(() => void this.#run(), Math.max(0, this.#nextProbeAt - Date.now()));
    this.#timer.unref?.();
  }

  async #run(): Promise<void> {
    this.#timer = undefined;
    if (this.#closed || this.#waiting.size === 0) return;
    // Jittered, so that the clients of one server that all lost it at once do not probe it in step.
    this.#nextProbeAt = Date.now() + this.#intervalMs * (1 + 0.25 * this.#random());
    const controller = new AbortController();
    this.#inFlight = controller;
    this.#probes++;
    const seen = await this.#probeOnce(controller.signal);
    this.#inFlight = undefined;
    if (this.#closed) return;
    this.#observe(seen);
    this.#schedule();
  }

  async #probeOnce(signal: AbortSignal): Promise<Seen> {
    try {
      await this.#probe(signal);
      return "up";
    } catch (err) {
      if (!(err instanceof ApiError) || err.kind === "Aborted") return undefined;
      if (isOutage(err)) return "down";
      // A server that refuses the probe itself (no RBAC for /readyz, a proxy without it) answers all the same; a 429
      // says it is busy, not whether it is back.
      return err.status > 0 && err.status !== 429 ? "up" : undefined;
    }
  }

  #observe(seen: Seen): void {
    if (seen === undefined) return;
    this.#state = seen;
    if (seen === "down") {
      for (const waiter of this.#waiting) waiter.sawDown = true;
      return;
    }
    const woken = [...this.#waiting].filter((waiter) => waiter.sawDown);
    if (woken.length === 0) return;
    // About 100 reconnects a second at most, however many waited: a burst the API server takes in its stride (and
    // lists go through the client-side rate limit besides), while a lone watcher is back within milliseconds.
    const window = Math.min(this.#maxSpreadMs, woken.length * this.#spreadPerWaiterMs);
    const now = Date.now();
    for (const waiter of woken) {
      this.#waiting.delete(waiter);
      const at = Math.max(waiter.notBefore, now + this.#random() * Math.min(window, waiter.due - now));
      if (at < waiter.due) waiter.wakeIn(at - now);
    }
    if (this.#waiting.size === 0) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }
}
