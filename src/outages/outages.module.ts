import { Module } from '@nestjs/common';
import { ControlPlaneClock } from './control-plane-clock';
import { ControlPlaneClockRepository } from './control-plane-clock.repository';

/**
 * Outages of the control plane itself (every replica paused or down, or the database unreachable): noticed by
 * a shared clock row and credited to the leases and node liveness that the outage would otherwise have ended.
 */
@Module({
  providers: [ControlPlaneClockRepository, ControlPlaneClock],
  exports: [ControlPlaneClock],
})
export class OutagesModule {}
