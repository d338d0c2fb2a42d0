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
  private readonly switching = new Set<Promise<void>>();

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
    const switching = this.replace(previous, next);
    this.switching.add(switching);
    try {
      await switching;
    } finally {
      this.switching.delete(switching);
    }
  }

  /**
   * Shutdown (or another switch) may come while `previous` closes or `next` starts. Its close of `next` may
   * then run before `next` connected, and a connection opened after it would keep the process alive: `next`
   * is not started once set aside, and is closed again once its start returns.
   */
  private async replace(previous: ConnectedWakeUps, next: ConnectedWakeUps): Promise<void> {
    await previous.onApplicationShutdown();
    if (this.setAside(next)) return;
    try {
      await next.start();
    } finally {
      if (this.setAside(next)) await next.onApplicationShutdown();
    }
  }

  private setAside(transport: ConnectedWakeUps): boolean {
    return this.closed || this.current !== transport;
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    await this.current.onApplicationShutdown();
    // A switch under way closes what it started: shutdown ends only once nothing is left open.
    await Promise.all([...this.switching].map((switching) => switching.catch(() => undefined)));
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
