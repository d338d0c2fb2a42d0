import { Module } from '@nestjs/common';
import { ClockModule } from '../common/clock/clock.module';
import { RedisModule } from '../redis/redis.module';
import { HealthController } from './health.controller';
import { HealthService } from './health.service';

@Module({
  imports: [RedisModule, ClockModule],
  controllers: [HealthController],
  providers: [HealthService],
})
export class HealthModule {}
