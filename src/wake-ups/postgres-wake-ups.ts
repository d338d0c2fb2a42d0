import { Logger, OnApplicationShutdown } from '@nestjs/common';
import { Client, QueryConfig } from 'pg';
import { CoalescingSender, WakeUpTransport } from './wake-up-transport';

/** The channel replicas NOTIFY and LISTEN on; NOTIFY is scoped to the database, so deployments never mix. */
const CHANNEL = 'vcp_work';
/** The listener's application_name: operators (and tests) find its backend in pg_stat_activity by it. */
export const LISTENER_APPLICATION_NAME = 'vcp-wakeups';
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 5000;
/**
 * How often the listener asks its server a trivial query, and the longest it waits for the answer: a LISTEN
 * connection only receives, so one whose path died without a reset (a dropped NAT entry, a vanished host)
 * would look alive until the OS keepalive gives up (hours), and this replica would hear no wake-up meanwhile.
 */
const LIVENESS_INTERVAL_MS = 5000;
const LIVENESS_TIMEOUT_MAX_MS = 5000;

/**
 * Wake-ups between replicas on PostgreSQL: one dedicated connection per replica that LISTENs (a pooled
 * connection cannot: LISTEN belongs to a session, and the pool hands sessions around) and also sends the
 * NOTIFYs, so publishing never takes a connection from the request pool. Payloads carry the replica's id so
 * that a replica ignores its own notifications (it has already woken its claimers in process). A dropped
 * connection is replaced with exponential backoff; after each (re)connect the listeners look once, since
 * notifications sent while nobody listened are gone. A connection that stops answering the liveness check
 * is replaced the same way.
 */
export class PostgresWakeUps extends WakeUpTransport implements OnApplicationShutdown {
  readonly kind = 'postgres' as const;
  private readonly logger = new Logger('WakeUps');
  private readonly listeners: (() => void)[] = [];
  private readonly sender = new CoalescingSender(
    () => this.notify(),
    (error) => this.logger.debug(`NOTIFY failed: ${describe(error)}`),
  );
  private client: Client | null = null;
  private retryMs = RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  /**
   * `timeoutMs` bounds the connect and each query, as DB_CONNECTION_TIMEOUT_SECS bounds the pool's connects: a
   * reconnect that meets a server that never answers (a hung or unreachable host that took the TCP connection)
   * would otherwise wait on it for good, and the replica would never LISTEN again.
   */
  constructor(
    private readonly url: string,
    private readonly replicaId: string,
    private readonly timeoutMs: number,
  ) {
    super();
  }

  /** Connects once; a failure is logged and retried in the background (wake-ups are hints). */
  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (error) {
      this.logger.warn(`wake-up listener could not connect, retrying: ${describe(error)}`);
      this.retryLater();
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  publish(): void {
    this.sender.request();
  }

  subscribe(listener: () => void): void {
    this.listeners.push(listener);
  }

  private async notify(): Promise<void> {
    // Not connected: nobody hears this one; the other replicas' fallback poll finds the work.
    await this.client?.query('SELECT pg_notify($1, $2)', [CHANNEL, this.replicaId]);
  }

  private async connect(): Promise<void> {
    const client = new Client({
      connectionString: this.url,
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
      connectionTimeoutMillis: this.timeoutMs,
      query_timeout: this.timeoutMs,
    });
    let lost = false;
    let liveness: NodeJS.Timeout | undefined = undefined; // set once connected
    const onLost = (error?: Error) => {
      if (lost) return;
      lost = true;
      clearInterval(liveness);
      if (this.client === client) this.client = null;
      client.end().catch(() => undefined);
      if (this.closed) return;
      this.logger.warn(
        `wake-up listener lost its connection, reconnecting${error ? `: ${error.message}` : ''}`,
      );
      this.retryLater();
    };
    client.on('notification', (message) => {
      if (message.channel === CHANNEL && message.payload !== this.replicaId) this.wake();
    });
    // Attached before connecting: a pg client without an 'error' listener would crash the process.
    client.on('error', onLost);
    client.on('end', () => onLost());
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      lost = true; // the caller schedules the retry
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    if (lost) return; // dropped between LISTEN and here: its retry is already scheduled
    this.client = client;
    this.retryMs = RETRY_FIRST_MS;
    liveness = setInterval(() => {
      const timeoutMs = Math.min(this.timeoutMs, LIVENESS_TIMEOUT_MAX_MS);
      // pg reads query_timeout per query too (its types only declare it on the client).
      const ping: QueryConfig & { query_timeout: number } = { text: 'SELECT 1', query_timeout: timeoutMs };
      client.query(ping).catch((error: unknown) => {
        // end() destroys the socket of a connection whose query hangs, so a dead path is not waited on.
        onLost(new Error(`no answer to its liveness check within ${timeoutMs} ms (${describe(error)})`));
      });
    }, LIVENESS_INTERVAL_MS);
    liveness.unref();
    this.wake();
  }

  private retryLater(): void {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
    this.retryTimer = setTimeout(() => {
      this.connect().catch((error: unknown) => {
        this.logger.debug(`wake-up listener reconnect failed: ${describe(error)}`);
        this.retryLater();
      });
    }, delay);
  }

  private wake(): void {
    for (const listener of this.listeners) listener();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
