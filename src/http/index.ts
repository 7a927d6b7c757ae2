/** The transport layer: one connection pool per cluster, rate limits, retries, typed errors. */
export * from "./errors.js";
export { TokenBucket } from "./ratelimit.js";
export {
  type Query,
  type RequestOptions,
  type Response,
  type StreamResponse,
  Transport,
  type TransportOptions,
} from "./transport.js";
