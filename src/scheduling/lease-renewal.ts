import { Injectable, OnModuleInit } from '@nestjs/common';
import { HeartbeatService } from '../nodes/heartbeat.service';
import type { LeaseReportDto } from '../nodes/dto/node-responses.dto';
import { RunsRepository } from './runs.repository';
import { SchedulingConfig } from './scheduling.config';

/** Lease renewal rides on the node heartbeat: one statement for all the leases it names. */
@Injectable()
export class LeaseRenewal implements OnModuleInit {
  constructor(
    private readonly heartbeats: HeartbeatService,
    private readonly runs: RunsRepository,
    private readonly config: SchedulingConfig,
  ) {}

  onModuleInit(): void {
    this.heartbeats.useScheduling({
      renew: (nodeId, runs) => this.renew(nodeId, runs),
      maxConcurrentRuns: this.config.maxConcurrentRuns,
    });
  }

  async renew(nodeId: string, runs: { runId: string; fence: string }[]): Promise<LeaseReportDto> {
    const report: LeaseReportDto = { renewed: [], lost: [], cancel: [] };
    for (const { runId, verdict } of await this.runs.renew(nodeId, runs, this.config.leaseSecs)) {
      report[verdict === 'renewed' ? 'renewed' : verdict === 'cancel' ? 'cancel' : 'lost'].push(runId);
    }
    return report;
  }
}
