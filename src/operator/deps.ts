/** What the operator's controllers share: the gateway they drive and how they reach in-cluster Services. */
import type { EventRecorder } from "../controller/events.js";
import type { GatewayStateView } from "../gateway/admin.js";
import type { GatewayDriver } from "../gateway/driver.js";

/** What changed at the gateway since the last look: it restarted (its state is gone), or what it reports changed. */
export type GatewayChange = "restart" | "state";

/** Watches one gateway's admin state, so that reconcilers read breaker states and token totals without a request. */
export interface GatewayMonitor {
  /** The state last read; undefined before the first answer. */
  latest(): GatewayStateView | undefined;
  /** Calls `listener` on each change; returns the function that unsubscribes. */
  subscribe(listener: (change: GatewayChange) => void): () => void;
}

/** The operator's controllers' common dependencies. */
export interface OperatorDeps {
  readonly driver: GatewayDriver;
  readonly monitor: GatewayMonitor;
  /** The URL the gateway uses for a Service's port (default `http://NAME.NAMESPACE.svc:PORT`). */
  readonly serviceUrl: (namespace: string, name: string, port: number) => string;
  /** Where Events go. */
  readonly recorder?: EventRecorder | undefined;
  /** Watch one namespace only (default all). */
  readonly namespace?: string | undefined;
}
