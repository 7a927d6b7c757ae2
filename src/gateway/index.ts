/** What a driver of a gateway needs: the model it applies, the state it reads, and the adapter interface. */
export type { GatewayStateView, KeySetView, KeyView, RouteView } from "./admin.js";
export {
  type ApplyOutcome,
  type GatewayDriver,
  GatewayDriverError,
  HttpGatewayDriver,
  type HttpGatewayDriverOptions,
} from "./driver.js";
export type {
  KeySetSpec,
  KeySpec,
  ProfileSpec,
  RateLimitSpec,
  RouteSpec,
  Source,
  TaskSpec,
  UpstreamSpec,
} from "./state.js";
export type { BreakerState, BreakerStatus } from "./upstream.js";
export type { KeyUsage, ProfileUsage, UsageView } from "./usage.js";
