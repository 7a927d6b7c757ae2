/** Process lifecycle: the Manager, leader election on a Lease, JSON logs. */

export { type JsonLoggerOptions, jsonLogger } from "./json-logger.js";
export { type LeaderElectionStatus, LeaderElector, type LeaderElectorOptions } from "./leader.js";
export { defaultLeaseTiming, type LeaseRecord, type LeaseTiming, validateLeaseTiming } from "./lease.js";
export {
  LeaderElectionLostError,
  Manager,
  type ManagerCluster,
  type ManagerLeaderElection,
  type ManagerListen,
  type ManagerOptions,
  type ManagerReadiness,
  setupSignalHandler,
} from "./manager.js";
