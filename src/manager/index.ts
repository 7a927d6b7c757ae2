/** Process lifecycle: leader election on a Lease. */

export { type LeaderElectionStatus, LeaderElector, type LeaderElectorOptions } from "./leader.js";
export { defaultLeaseTiming, type LeaseRecord, type LeaseTiming, validateLeaseTiming } from "./lease.js";
