import { Module } from '@nestjs/common';
import { OutagesModule } from '../outages/outages.module';
import { AuditModule } from '../audit/audit.module';
import { NodesModule } from '../nodes/nodes.module';
import { ProofsModule } from '../proofs/proofs.module';
import { TasksModule } from '../tasks/tasks.module';
import { ClaimService } from './claim.service';
import { LeasedRuns } from './leased-runs';
import { ClaimsRepository } from './claims.repository';
import { LeaseRenewal } from './lease-renewal';
import { LeaseSweeper } from './lease-sweeper';
import { RefusedResults } from './refused-results';
import { RunRelease } from './run-release';
import { RunResultService } from './run-result.service';
import { ReputationRepository } from './reputation.repository';
import { EndedLeasesRepository } from './ended-leases.repository';
import { QuorumResultsRepository } from './quorum-results.repository';
import { RunsRepository } from './runs.repository';
import { SchedulingController } from './scheduling.controller';
import { Verification } from './verification';
import { ZkResults } from './zk-results';

/**
 * The scheduling engine (issue 16): runs leased to nodes with fences, claims by long poll, lease renewal on
 * the heartbeat, results, and the sweeper that expires leases and queue timeouts; and the verification of
 * results by quorum with the nodes' reputation (issue 18).
 */
@Module({
  imports: [OutagesModule, AuditModule, NodesModule, ProofsModule, TasksModule],
  controllers: [SchedulingController],
  providers: [
    RunsRepository,
    QuorumResultsRepository,
    EndedLeasesRepository,
    ClaimsRepository,
    ReputationRepository,
    Verification,
    ClaimService,
    { provide: LeasedRuns, useFactory: () => new LeasedRuns() },
    RunResultService,
    ZkResults,
    LeaseRenewal,
    RunRelease,
    RefusedResults,
    LeaseSweeper,
  ],
  // The embedded node (issue 17) calls the node protocol's services directly.
  exports: [ClaimService, RunResultService, RunRelease],
})
export class SchedulingModule {}
