/**
 * A {@link GatewayMonitor} that polls the gateway's state through its driver: reconcilers read breaker states and token
 * totals from the last answer without a request of their own, and hear when the gateway restarted (its state is gone).
 */
import { isDeepStrictEqual } from "node:util";
import { failureFields, type Logger, type LoggerOption, loggerOf } from "../cache/log.js";
import type { GatewayStateView } from "../gateway/admin.js";
import type { GatewayDriver } from "../gateway/driver.js";
import type { ProfileUsage } from "../gateway/usage.js";
import type { GatewayChange, GatewayMonitor } from "./deps.js";

/** The token totals of a state view, by gateway profile (none before the first answer). */
export function profileUsage(state: GatewayStateView | undefined): readonly ProfileUsage[] {
  return state?.usage?.profiles ?? [];
}

/** Options of {@link PollingGatewayMonitor}. */
export interface PollingGatewayMonitorOptions {
  /** How often the state is read (default 1000 ms), each wait jittered by up to ±10%. */
  readonly pollMs?: number | undefined;
  /** Where outages and recoveries are logged (default the library's stderr logger). */
  readonly logger?: LoggerOption | undefined;
}

/** What of a state view makes a "state" change: breaker states and token totals. */
function observed(state: GatewayStateView): unknown {
  return {
    breakers: state.routes.map((r) => [r.name, r.breakers.map((b) => [b.url, b.state])]),
    usage: profileUsage(state),
  };
}

/** Polls `driver.state()` until the signal given to {@link PollingGatewayMonitor.run} aborts. */
export class PollingGatewayMonitor implements GatewayMonitor {
  readonly #driver: GatewayDriver;
  readonly #pollMs: number;
  readonly #log: Logger | undefined;
  readonly #listeners = new Set<(change: GatewayChange) => void>();
  #latest: GatewayStateView | undefined;
  /** Whether the last poll failed: an outage is logged once, when it starts. */
  #unreachable = false;

  constructor(driver: GatewayDriver, options: PollingGatewayMonitorOptions = {}) {
    const pollMs = options.pollMs ?? 1000;
    if (!(pollMs > 0)) throw new RangeError(`pollMs must be above 0, not ${pollMs}`);
    this.#driver = driver;
    this.#pollMs = pollMs;
    this.#log = loggerOf(options.logger);
  }

  latest(): GatewayStateView | undefined {
    return this.#latest;
  }

  subscribe(listener: (change: GatewayChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Reads the state once and tells the listeners what changed: "restart" when the boot id is not the last one seen (or
   * on the first answer after failed polls: what was applied meanwhile may have been lost), "state" when breaker
   * states or token totals changed. A failure is logged (once per outage) and never thrown.
   */
  async poll(): Promise<void> {
    let state: GatewayStateView;
    try {
      state = await this.#driver.state();
    } catch (err) {
      if (!this.#unreachable) this.#log?.("warn", "gateway unreachable, still trying", failureFields(err));
      this.#unreachable = true;
      return;
    }
    const before = this.#latest;
    const wasUnreachable = this.#unreachable;
    this.#unreachable = false;
    this.#latest = state;
    if (wasUnreachable) this.#log?.("info", "gateway reachable again", { bootId: state.bootId });
    if (before ? before.bootId !== state.bootId : wasUnreachable) {
      this.#log?.("info", "gateway restarted: applying everything again", { bootId: state.bootId });
      this.#emit("restart");
    } else if (before && !isDeepStrictEqual(observed(before), observed(state))) {
      this.#emit("state");
    }
  }

  /** Polls every `pollMs` (jittered) until `signal` aborts; resolves then. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.poll();
      const wait = this.#pollMs * (0.9 + Math.random() * 0.2);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, wait);
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  #emit(change: GatewayChange): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (err) {
        this.#log?.("error", "gateway change listener failed", failureFields(err));
      }
    }
  }
}
