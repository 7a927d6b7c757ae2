/** Controllers and the building blocks of a reconciler: owner references, finalizers, status, Events. */

export {
  type Controller,
  type ControllerBuilder,
  type ControllerCluster,
  type ControllerOptions,
  type ControllerRunOptions,
  type ControllerStats,
  controller,
  type PermanentErrorHandler,
  type ReconcileApplyOptions,
  type ReconcileContext,
  type Reconciler,
  type SourceOptions,
  type Trigger,
  type WatchesAllOptions,
} from "./controller.js";
export {
  type EventInput,
  type EventObjectReference,
  EventRecorder,
  type EventRecorderOptions,
  type EventRecorderStats,
  type EventType,
} from "./events.js";
export { type FinalizerHandlers, type FinalizerOptions, releaseFinalizer, withFinalizer } from "./finalizer.js";
export type { ControllerMetrics, ReconcileOutcome, ReconcileResultLabel } from "./metrics.js";
export {
  type ControllerReferenceOptions,
  OwnerReferenceError,
  type OwnerReferenceFailure,
  setControllerReference,
  setOwnerReference,
} from "./owner.js";
export { annotationsChanged, anyOf, generationChanged, labelsChanged, type Predicate } from "./predicates.js";
export { done, PermanentError, type Request, type Result, requeue, requeueAfter } from "./result.js";
export { hasStatusSubresource, type StatusOptions, type StatusUpdate, setStatus } from "./status.js";
