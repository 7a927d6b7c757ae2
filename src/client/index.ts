/** The dynamic client: any resource by GroupVersionResource, as plain JSON objects. */
export {
  apiVersionOf,
  formatGvr,
  type GroupVersionKind,
  type GroupVersionResource,
  parseApiVersion,
  type ResourceType,
  resourcePath,
} from "./gvr.js";
export * from "./options.js";
export { DynamicClient, decodeWatchEvent, ResourceClient } from "./resource.js";
