import { Module } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DatabaseConfig } from '../database/database.config';
import { deploymentScope } from '../database/deployment-scope';
import { RedisConfig } from '../redis/redis.config';
import { RedisConnection } from '../redis/redis.connection';
import { RedisModule } from '../redis/redis.module';
import { PostgresWakeUps } from './postgres-wake-ups';
import { RedisWakeUps } from './redis-wake-ups';
import { InProcessWakeUps, WakeUpTransport } from './wake-up-transport';

/**
 * The Redis channel of one deployment: named after the database (without credentials), so deployments that
 * share a Redis server do not wake each other.
 */
export function redisWakeUpChannel(databaseUrl: string): string {
  return `vcp:work:${deploymentScope({ url: databaseUrl }, { dataDir: '' })}`;
}

/**
 * Wake-ups between replicas: nothing to do on the embedded database (one process), Redis pub/sub when
 * REDIS_URL is set, else a LISTEN connection per replica on PostgreSQL. The transport is connected before
 * the app listens, and closed at shutdown.
 */
@Module({
  imports: [RedisModule],
  providers: [
    {
      provide: WakeUpTransport,
      inject: [DatabaseConfig, RedisConfig, RedisConnection],
      useFactory: async (
        database: DatabaseConfig,
        redis: RedisConfig,
        connection: RedisConnection,
      ): Promise<WakeUpTransport> => {
        if (!database.url) return new InProcessWakeUps();
        const replicaId = randomUUID();
        const transport =
          redis.url && connection.client
            ? new RedisWakeUps(redis.url, connection.client, redisWakeUpChannel(database.url), replicaId)
            : new PostgresWakeUps(database.url, replicaId, database.connectionTimeoutMs);
        await transport.start();
        return transport;
      },
    },
  ],
  exports: [WakeUpTransport],
})
export class WakeUpsModule {}
