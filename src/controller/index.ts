/** The building blocks of a reconciler: owner references, finalizers, status, Events. */

export {
  type EventInput,
  type EventObjectReference,
  EventRecorder,
  type EventRecorderOptions,
  type EventRecorderStats,
  type EventType,
} from "./events.js";
export { type FinalizerHandlers, type FinalizerOptions, withFinalizer } from "./finalizer.js";
export {
  type ControllerReferenceOptions,
  OwnerReferenceError,
  type OwnerReferenceFailure,
  setControllerReference,
  setOwnerReference,
} from "./owner.js";
export { hasStatusSubresource, type StatusOptions, type StatusUpdate, setStatus } from "./status.js";
