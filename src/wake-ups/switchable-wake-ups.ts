import { OnApplicationShutdown } from '@nestjs/common';
import { WakeUpTransport } from './wake-up-transport';

/** A transport that connects at boot and closes at shutdown (Redis pub/sub, PostgreSQL LISTEN/NOTIFY). */
export type ConnectedWakeUps = WakeUpTransport & OnApplicationShutdown & { start(): Promise<void> };

/**
 * One transport, replaceable while the app runs: Redis pub/sub until REDIS_URL is given up (RedisConnection
 * refuses a database index the server does not have, until a restart), then PostgreSQL LISTEN/NOTIFY, as
 * without REDIS_URL, so wake-ups go on between replicas instead of every claim waiting for the fallback poll.
 * Every replica given that REDIS_URL meets the same refusal, so they all move to PostgreSQL.
 */
export class SwitchableWakeUps extends WakeUpTransport implements OnApplicationShutdown {
  private readonly listeners: (() => void)[] = [];
  private closed = false;

  constructor(private current: ConnectedWakeUps) {
    super();
    current.subscribe(() => this.wake());
  }

  get kind(): WakeUpTransport['kind'] {
    return this.current.kind;
  }

  start(): Promise<void> {
    return this.current.start();
  }

  /** Closes the current transport and starts `next`, which wakes the listeners once it is connected. */
  async switchTo(next: ConnectedWakeUps): Promise<void> {
    if (this.closed) return;
    const previous = this.current;
    next.subscribe(() => this.wake());
    this.current = next;
    await previous.onApplicationShutdown();
    await next.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.current.onApplicationShutdown();
  }

  publish(): void {
    this.current.publish();
  }

  subscribe(listener: () => void): void {
    this.listeners.push(listener);
  }

  private wake(): void {
    for (const listener of this.listeners) listener();
  }
}
