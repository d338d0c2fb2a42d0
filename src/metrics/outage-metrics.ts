import { Counter, Gauge, Registry } from 'prom-client';

/** The clock row's record of every outage credit (see ControlPlaneClock), as one tick read it back. */
export interface OutageCredits {
  outages: number;
  leasesExtended: number;
  lastOutageSecs: number | null;
}

/**
 * The outage credits of the control plane's clock (part of VcpMetrics): cluster-wide, since they follow counts
 * kept in the shared row, which every replica's tick reads back.
 */
export class OutageMetrics {
  private readonly outagesCredited: Counter;
  private readonly leasesCredited: Counter;
  private readonly lastOutage: Gauge;
  private outagesSeen = 0;
  private leasesSeen = 0;

  constructor(registry: Registry) {
    const registers = [registry];
    this.outagesCredited = new Counter({
      name: 'vcp_control_plane_outages_credited_total',
      help:
        'Outages of the control plane (no replica reached the database for OUTAGE_CREDIT_AFTER_SECS) credited to ' +
        'leases and node liveness, cluster-wide, as this replica’s last tick of the shared clock read the count; ' +
        'every replica exports the same value: aggregate with max(), not sum()',
      registers,
    });
    this.leasesCredited = new Counter({
      name: 'vcp_task_leases_credited_total',
      help:
        'Live leases extended by the length of an outage of the control plane, cluster-wide, as this replica’s ' +
        'last tick of the shared clock read the count; every replica exports the same value: aggregate with ' +
        'max(), not sum()',
      registers,
    });
    this.lastOutage = new Gauge({
      name: 'vcp_control_plane_last_outage_seconds',
      help:
        'Seconds the last outage of the control plane any replica credited lasted (0: none yet), cluster-wide, as ' +
        'of this replica’s last tick of the shared clock; every replica exports the same value: aggregate with ' +
        'max(), not sum()',
      registers,
    });
  }

  /** Counters that follow the row's counts: from 0 up to them at the first tick, then by what they grew. */
  moved(credits: OutageCredits): void {
    if (credits.outages > this.outagesSeen) this.outagesCredited.inc(credits.outages - this.outagesSeen);
    if (credits.leasesExtended > this.leasesSeen)
      this.leasesCredited.inc(credits.leasesExtended - this.leasesSeen);
    this.outagesSeen = Math.max(this.outagesSeen, credits.outages);
    this.leasesSeen = Math.max(this.leasesSeen, credits.leasesExtended);
    this.lastOutage.set(credits.lastOutageSecs ?? 0);
  }
}
