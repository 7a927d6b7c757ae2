/**
 * The watch-all engine: every kind, followed as CRDs and APIs come, change version and go, in one merged stream.
 *
 * @example
 * for await (const e of watchAll(cluster, { signal, exclude: { groups: ["metrics.k8s.io"] } })) {
 *   console.log(e.type, e.kind, "name" in e ? e.name : e.reason);
 * }
 */

/** Checkpoint files: what a consumer has handled, so that a restart resumes instead of replaying. */
export { type Checkpoint, type CheckpointKind, readCheckpoint, writeCheckpoint } from "./checkpoint.js";
/** What a CRD serves, read from the CRD, and the API server's order of versions. */
export { compareKubeVersions, crdResource, isEstablished } from "./crds.js";
/** Which field paths an update changed, and whether the change is only bookkeeping. */
export { changedPaths, isNoise, noisePaths } from "./diff.js";
/** The engine, its options, and the shortcut that starts it. */
export { WatchAll, type WatchAllCluster, type WatchAllOptions, watchAll } from "./engine.js";
/** The events of the merged stream, the filters, and the status report. */
export {
  groupResource,
  type KindEvent,
  type KindFilter,
  type KindInfo,
  type KindStatus,
  type ObjectEvent,
  type WatchAllEvent,
  type WatchAllStatus,
} from "./types.js";
