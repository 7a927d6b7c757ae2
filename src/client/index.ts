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
export {
  type AppliedObject,
  type ApplyManifestOptions,
  applyManifest,
  type KindMapper,
  ManifestError,
  type NamedObject,
  parseManifest,
} from "./manifest.js";
export * from "./options.js";
export { type ApplyFields, type ApplyObject, DynamicClient, decodeWatchEvent, ResourceClient } from "./resource.js";
export { parseWaitCondition, type WaitCondition, type WaitOptions, waitForObject } from "./wait.js";
