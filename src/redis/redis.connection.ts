import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import Redis, { ReplyError } from 'ioredis';
import { RepeatedWarnings } from '../common/logging/repeated-warnings';
import { closeRedis } from './close-redis';
import { createRedisClient } from './redis-url';
import { RedisConfig } from './redis.config';

/** The shared Redis client when REDIS_URL is set (null otherwise), closed on shutdown. */
@Injectable()
export class RedisConnection implements OnApplicationShutdown {
  private readonly logger = new Logger(RedisConnection.name);
  readonly client: Redis | null;
  private refusal: string | null = null;
  private readonly refusalListeners: (() => void)[] = [];
  /** While Redis is away the client fails every reconnect (every 2 s): one line a minute says so. */
  private readonly warnings = new RepeatedWarnings(this.logger);

  constructor(config: RedisConfig) {
    this.client = config.url
      ? createRedisClient(config.url, {
          lazyConnect: false,
          // Fail fast while Redis is down instead of queueing commands without bound; ioredis keeps
          // reconnecting in the background, so the service recovers when Redis returns.
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          connectTimeout: 2000,
          // A connection that takes commands and answers nothing (a hung server, or one that took the TCP
          // connection and never answered the first command) is dropped and reconnected; without this, ioredis
          // waits on it for good and the replica never uses Redis again.
          socketTimeout: 2000,
          retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
        })
      : null;
    this.client?.on('error', (error: Error) => this.onError(error));
    this.client?.on('ready', () => this.warnings.recovered());
  }

  /**
   * Why REDIS_URL cannot be used as it is (null while it can): Redis refused the database it selects. The
   * client is then closed and stays so: restarting with a REDIS_URL the server accepts is the way back.
   */
  get problem(): string | null {
    return this.refusal;
  }

  /** Runs `listener` once REDIS_URL is given up for a refused database (at once if it already was). */
  onRefusal(listener: () => void): void {
    if (this.refusal) listener();
    else this.refusalListeners.push(listener);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.client) await closeRedis(this.client);
  }

  private onError(error: Error): void {
    const client = this.client!;
    const db = client.options.db ?? 0;
    // ioredis reports a refused SELECT (sent on every connect to a database other than 0, before the client is
    // ready) only as an error event, and goes on in database 0: this service's counters would then mix with
    // whatever else lives there. A refused AUTH is a reply error too, but says nothing of SELECT or DB index.
    if (!(error instanceof ReplyError) || db === 0 || !/\bselect\b|\bDB index\b/i.test(error.message)) {
      this.warnings.warn(`redis: ${error.message}`);
      return;
    }
    this.refusal = `REDIS_URL selects database ${db}, which this Redis server refused (${error.message})`;
    this.logger.error(
      `${this.refusal}: Redis is not used (rate limits are per replica, wake-ups go through PostgreSQL); ` +
        `fix REDIS_URL and restart`,
    );
    client.disconnect();
    for (const listener of this.refusalListeners.splice(0)) listener();
  }
}
