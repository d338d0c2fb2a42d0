import { Module } from '@nestjs/common';
import { RetentionRepository } from './retention.repository';
import { RetentionSweeper } from './retention.sweeper';

/**
 * Retention of tables that would otherwise grow for as long as the service runs. Its own module rather than a
 * step of each feature's sweep: the tables belong to features (auth, tasks, audit) that have no sweep of their
 * own, and one sweeper with one interval and one metric is what an operator reads to know what is deleted.
 * Node heartbeat history stays with the node sweep, which owns its retention setting.
 */
@Module({
  providers: [RetentionRepository, RetentionSweeper],
})
export class RetentionModule {}
