/**
 * RUN_LEASE_SECS, for a feature that must judge runs' leases as the scheduler does (why a task waits) but may
 * not import the scheduling feature, which imports it. ConfigModule provides the scheduling config under it.
 */
export abstract class RunLeaseSettings {
  abstract readonly leaseSecs: number;
}
