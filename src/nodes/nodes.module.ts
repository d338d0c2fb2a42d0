import { Module } from '@nestjs/common';
import { OutagesModule } from '../outages/outages.module';
import { ApiKeysModule } from '../api-keys/api-keys.module';
import { AuditModule } from '../audit/audit.module';
import { ClockModule } from '../common/clock/clock.module';
import { UsersModule } from '../users/users.module';
import { ClusterStatsRepository } from './cluster-stats.repository';
import { ClusterStatsService } from './cluster-stats.service';
import { HeartbeatService } from './heartbeat.service';
import { HeartbeatsRepository } from './heartbeats.repository';
import { NodeLivenessSweeper } from './node-liveness.sweeper';
import { NodeLoss } from './node-loss';
import { ClusterController, NodesController } from './nodes.controller';
import { NodesRepository } from './nodes.repository';
import { NodesService } from './nodes.service';

/**
 * The node registry (issue 15): registration with a node-bound key, reads, delete/reject/reinstate, key
 * rotation, heartbeats with bounded history, the liveness sweep and cluster stats. HeartbeatService is
 * exported so the scheduling module can add lease renewal to the same call.
 */
@Module({
  imports: [OutagesModule, ApiKeysModule, AuditModule, ClockModule, UsersModule],
  controllers: [NodesController, ClusterController],
  providers: [
    NodesRepository,
    HeartbeatsRepository,
    ClusterStatsRepository,
    NodesService,
    HeartbeatService,
    ClusterStatsService,
    NodeLivenessSweeper,
    NodeLoss,
  ],
  exports: [NodesService, HeartbeatService, NodesRepository, NodeLoss],
})
export class NodesModule {}
