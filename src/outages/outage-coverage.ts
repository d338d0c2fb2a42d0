/** The settings that decide which outages of the control plane a lease or a node's silence outlasts. */
export interface OutageCoverageSettings {
  creditAfterSecs: number;
  leaseSecs: number;
  heartbeatIntervalSecs: number;
  offlineAfterSecs: number;
}

/**
 * Outages these settings leave uncovered, one warning each. An outage shorter than OUTAGE_CREDIT_AFTER_SECS is not
 * credited, so a lease, or a node's time to heartbeat, must outlast it on its own: an agent renews its leases every
 * third of RUN_LEASE_SECS, so each always has two thirds of it left, and heartbeats every
 * NODE_HEARTBEAT_INTERVAL_SECS, so a node is at least NODE_OFFLINE_AFTER_SECS minus that from being marked offline.
 * Past those, until the credit, an outage costs runs their leases, or nodes their standing. The defaults cover all.
 */
export function outageCoverageWarnings(settings: OutageCoverageSettings): string[] {
  const { creditAfterSecs, leaseSecs, heartbeatIntervalSecs, offlineAfterSecs } = settings;
  if (creditAfterSecs === 0) return [];
  const warnings: string[] = [];
  const leaseOutlasts = Math.floor((leaseSecs * 2) / 3);
  if (creditAfterSecs > leaseOutlasts)
    warnings.push(
      `OUTAGE_CREDIT_AFTER_SECS (${creditAfterSecs}) is longer than two thirds of RUN_LEASE_SECS (${leaseSecs}): ` +
        `an outage of the control plane between ${leaseOutlasts} and ${creditAfterSecs} s is neither credited nor ` +
        `outlasted by a lease, and costs the runs it reaches; set it to at most ${leaseOutlasts}`,
    );
  const silenceOutlasts = offlineAfterSecs - heartbeatIntervalSecs;
  if (creditAfterSecs > silenceOutlasts)
    warnings.push(
      `OUTAGE_CREDIT_AFTER_SECS (${creditAfterSecs}) is longer than NODE_OFFLINE_AFTER_SECS minus ` +
        `NODE_HEARTBEAT_INTERVAL_SECS (${silenceOutlasts}): an outage of the control plane between ` +
        `${silenceOutlasts} and ${creditAfterSecs} s is not credited and marks nodes offline; set it to at most ${silenceOutlasts}`,
    );
  return warnings;
}
