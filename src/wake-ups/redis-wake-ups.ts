import { Logger, OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { RepeatedWarnings } from '../common/logging/repeated-warnings';
import { closeRedis } from '../redis/close-redis';
import { createRedisClient } from '../redis/redis-url';
import { CoalescingSender, WakeUpTransport } from './wake-up-transport';

const START_WAIT_MS = 2000;
/**
 * How often the subscriber sends PING: a subscription only receives, so one whose path died without a reset
 * would wait for messages until the OS keepalive gives up (hours). An unanswered PING trips the 2 s
 * socketTimeout, and ioredis reconnects and re-subscribes.
 */
const LIVENESS_INTERVAL_MS = 5000;

/**
 * Wake-ups between replicas over Redis pub/sub (when REDIS_URL is set). Publishing goes through the shared
 * client; subscribing needs a connection of its own (a subscribed Redis connection can do nothing else),
 * which ioredis reconnects and re-subscribes by itself. After each (re)subscription the listeners look once.
 */
export class RedisWakeUps extends WakeUpTransport implements OnApplicationShutdown {
  readonly kind = 'redis' as const;
  private readonly logger = new Logger('WakeUps');
  private readonly listeners: (() => void)[] = [];
  private readonly subscriber: Redis;
  private readonly sender: CoalescingSender;
  private readonly liveness: NodeJS.Timeout;

  constructor(
    url: string,
    publisher: Redis,
    private readonly channel: string,
    private readonly replicaId: string,
  ) {
    super();
    this.sender = new CoalescingSender(
      () => publisher.publish(channel, replicaId),
      (error) =>
        this.logger.debug(`PUBLISH failed: ${error instanceof Error ? error.message : String(error)}`),
    );
    this.subscriber = createRedisClient(url, {
      lazyConnect: true,
      // The subscription waits for Redis however long it is away, instead of failing after 20 retries.
      maxRetriesPerRequest: null,
      connectTimeout: 2000,
      // A connection whose commands get no answer is dropped and reconnected (see RedisConnection); an idle
      // subscription waits for nothing, so it is never cut for being quiet.
      socketTimeout: 2000,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
    });
    // While Redis is away the subscriber fails every reconnect: one line a minute says so.
    const warnings = new RepeatedWarnings(this.logger);
    this.subscriber.on('error', (error: Error) => warnings.warn(`wake-up subscriber: ${error.message}`));
    this.subscriber.on('message', (channel: string, payload: string) => {
      if (channel === this.channel && payload !== this.replicaId) this.wake();
    });
    this.liveness = setInterval(() => {
      if (this.subscriber.status !== 'ready') return; // reconnecting: nothing to check, nothing to queue
      this.subscriber.ping().catch((error: unknown) => {
        this.logger.debug(
          `subscriber PING failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
    }, LIVENESS_INTERVAL_MS);
    this.liveness.unref();
    this.subscriber.on('ready', () => {
      warnings.recovered();
      // ioredis re-subscribes as it gets ready, but says 'ready' before Redis has confirmed it, and what is
      // published until then reaches nobody here. Redis answers commands in order, so the answer to this
      // SUBSCRIBE (of a channel already asked for: no change) comes once that re-subscription holds: a look
      // from then on sees whatever those publications announced.
      this.subscriber.subscribe(this.channel).then(
        () => this.wake(),
        (error: unknown) =>
          this.logger.debug(`re-subscribe failed: ${error instanceof Error ? error.message : String(error)}`),
      );
    });
  }

  /**
   * Subscribes, waiting at most START_WAIT_MS: with Redis away at boot, the subscription completes when it
   * returns (ioredis keeps retrying) and the service starts meanwhile (wake-ups are hints).
   */
  async start(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const subscribed = this.subscriber.subscribe(this.channel).then(
      () => true,
      (error: unknown) => {
        this.logger.warn(`wake-up subscriber: ${error instanceof Error ? error.message : String(error)}`);
        return false;
      },
    );
    const waited = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), START_WAIT_MS)));
    try {
      if (!(await Promise.race([subscribed, waited]))) {
        this.logger.warn('wake-up subscriber not ready yet; claims rely on the fallback poll until it is');
      }
    } finally {
      clearTimeout(timer);
    }
  }

  onApplicationShutdown(): Promise<void> {
    clearInterval(this.liveness);
    return closeRedis(this.subscriber);
  }

  publish(): void {
    this.sender.request();
  }

  subscribe(listener: () => void): void {
    this.listeners.push(listener);
  }

  private wake(): void {
    for (const listener of this.listeners) listener();
  }
}
