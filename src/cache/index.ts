/** Informers: the list-watch state machine, the store and its indexes, handlers, and shared informers. */
export { Backoff, type BackoffOptions, delay } from "./backoff.js";
export {
  type HeldInformer,
  type InformerLease,
  type InformerRequest,
  informerKey,
  SharedInformerFactory,
} from "./factory.js";
export {
  defaultTransform,
  dropManagedFields,
  type EventHandlers,
  Informer,
  type InformerLogger,
  type InformerOptions,
  type InformerStatus,
  InformerStoppedError,
} from "./informer.js";
export { type InternOptions, internStrings } from "./intern.js";
export { type Logger, type LoggerOption, type LogLevel, type StderrLoggerOptions, stderrLogger } from "./log.js";
export { coalesce, HandlerQueue, type Notification, type Origin } from "./notify.js";
export { type LabelSelector, matchesLabels, parseLabelSelector, type Requirement } from "./selector.js";
export { jsonSize } from "./size.js";
export { type IndexFunc, keyOf, namespaceIndex, Store, type StoreStats } from "./store.js";
export { type FieldPath, keepFields } from "./transform.js";
export {
  type InitReason,
  type ListWatch,
  listWatchOf,
  type Selection,
  type WatcherEvent,
  type WatcherOptions,
  watcher,
} from "./watcher.js";
