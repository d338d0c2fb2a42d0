import { Logger, Module } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DatabaseConfig } from '../database/database.config';
import { deploymentScope } from '../database/deployment-scope';
import { RedisConfig } from '../redis/redis.config';
import { RedisConnection } from '../redis/redis.connection';
import { RedisModule } from '../redis/redis.module';
import { PostgresWakeUps } from './postgres-wake-ups';
import { RedisWakeUps } from './redis-wake-ups';
import { SwitchableWakeUps } from './switchable-wake-ups';
import { InProcessWakeUps, WakeUpTransport } from './wake-up-transport';

const logger = new Logger('WakeUps');

/**
 * The Redis channel of one deployment: named after the database (without credentials), so deployments that
 * share a Redis server do not wake each other.
 */
export function redisWakeUpChannel(databaseUrl: string): string {
  return `vcp:work:${deploymentScope({ url: databaseUrl }, { dataDir: '' })}`;
}

/**
 * Wake-ups between replicas: nothing to do on the embedded database (one process), Redis pub/sub when
 * REDIS_URL is set (PostgreSQL once Redis refuses REDIS_URL's database), else a LISTEN connection per replica
 * on PostgreSQL. The transport is connected before the app listens, and closed at shutdown.
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
        const url = database.url;
        const replicaId = randomUUID();
        const postgres = () => new PostgresWakeUps(url, replicaId, database.connectionTimeoutMs);
        if (!redis.url || !connection.client) {
          const transport = postgres();
          await transport.start();
          return transport;
        }
        const transport = new SwitchableWakeUps(
          new RedisWakeUps(redis.url, connection.client, redisWakeUpChannel(url), replicaId),
        );
        await transport.start();
        // Redis is then set aside until a restart (the publishing client is closed): every wake-up would be lost.
        connection.onRefusal(() => {
          logger.warn('REDIS_URL refused: wake-ups go through PostgreSQL LISTEN/NOTIFY instead');
          transport.switchTo(postgres()).catch((error: unknown) => {
            logger.error(
              `wake-ups could not move to PostgreSQL: ${error instanceof Error ? error.message : String(error)}`,
            );
          });
        });
        return transport;
      },
    },
  ],
  exports: [WakeUpTransport],
})
export class WakeUpsModule {}
