import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { PassThrough } from 'node:stream';
import { CredentialCheck, CredentialHeaders } from '../common/auth/credential-check';
import type { Principal } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { FINAL_TASK_STATUSES } from '../common/tasks/task-kinds';
import type { TaskStatus } from '../common/tasks/task-kinds';
import { TaskEventSignal } from './task-event-signal';
import { TaskEvent, TaskEventsRepository } from './task-events.repository';
import { TasksConfig } from './tasks.config';
import { TasksService } from './tasks.service';

/** Streams re-read their task at least this often: signals are hints, this poll is the guarantee. */
const FALLBACK_POLL_MS = 1000;
/** Events read per statement. */
const BATCH = 200;
/** A client reconnecting after a drop waits this long (the `retry` field); it then sends Last-Event-ID. */
const RECONNECT_MS = 2000;
const TERMINAL: ReadonlySet<TaskStatus> = new Set(FINAL_TASK_STATUSES);
/** An event id as we send it: a positive decimal that fits a bigint. */
const EVENT_ID = /^(0|[1-9][0-9]{0,17})$/;

/** How often a stream checks that the credential that opened it still holds. */
const CREDENTIAL_CHECK_MS = 1000;
const CREDENTIAL_ENDED = ': the credential that opened this stream is no longer valid\n\n';

/** How long a shutdown waits for the streams it ended to reach their clients. */
const SHUTDOWN_FLUSH_MS = 1000;

interface OpenStream {
  userId: string;
  out: PassThrough;
  closed: boolean;
  /** Whether the credential that opened the stream still holds (CredentialCheck), and when it was last asked. */
  credentialHolds: () => Promise<boolean>;
  credentialCheckedAt: number;
  wake?: () => void;
  /** Resolves when the response carrying the stream has finished (or its connection closed). */
  sent?: Promise<void>;
}

/** One SSE message: `id`, `event` and one line of JSON data (JSON.stringify never emits a newline). */
export function formatEvent(event: TaskEvent): string {
  return `id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
}

/**
 * `GET /tasks/:task_id/events`: replays the task's events after Last-Event-ID, then follows it live (woken by
 * TaskEventSignal, re-reading at least once a second) with heartbeat comments in between, and ends after the
 * terminal status event. Open streams are bounded per user and per replica.
 */
@Injectable()
export class TaskEventStreams implements OnModuleDestroy {
  private readonly logger = new Logger('TaskEventStreams');
  private readonly streams = new Set<OpenStream>();
  private readonly byOut = new WeakMap<PassThrough, OpenStream>();
  private readonly perUser = new Map<string, number>();

  constructor(
    private readonly tasks: TasksService,
    private readonly events: TaskEventsRepository,
    private readonly signal: TaskEventSignal,
    private readonly config: TasksConfig,
    private readonly credentials: CredentialCheck,
  ) {}

  get openCount(): number {
    return this.streams.size;
  }

  /**
   * Ends every open stream with a comment saying why, and waits (at most SHUTDOWN_FLUSH_MS) until they reached
   * their clients: the process exits once closing is done, which cut streams off mid-response (curl: "transfer
   * closed with outstanding read data") and, at times, before their log line. An EventSource reconnects with
   * Last-Event-ID, through a load balancer to another replica.
   */
  async onModuleDestroy(): Promise<void> {
    const open = [...this.streams];
    for (const stream of open) {
      stream.out.write(': the server is shutting down: reconnect with Last-Event-ID\n\n');
      this.close(stream);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(open.map((stream) => stream.sent ?? Promise.resolve())),
      new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_FLUSH_MS))),
    ]);
    clearTimeout(timer);
  }

  /** The response that carries `out` (returned by open): a shutdown waits for it to finish. */
  sending(out: PassThrough, response: NodeJS.EventEmitter): void {
    const stream = this.byOut.get(out);
    if (!stream) return;
    stream.sent = new Promise((resolve) => {
      response.once('finish', resolve);
      response.once('close', resolve);
    });
  }

  /**
   * Checks access and capacity (404/422/429/503 before anything is sent), then returns the event stream; null
   * for a reconnect that has seen a finished task's last event (answered 204).
   */
  async open(
    principal: Principal,
    headers: CredentialHeaders,
    taskId: string,
    lastEventId: string | undefined,
  ): Promise<PassThrough | null> {
    const afterId = lastEventId === undefined ? '0' : lastEventId.trim();
    if (!EVENT_ID.test(afterId)) {
      throw AppException.invalidField('Last-Event-ID', 'must be the id of an event of this stream');
    }
    const task = await this.tasks.visible(principal, taskId);
    // Another stream's id would replay from an arbitrary point (or past this task's last event, hiding its end).
    if (afterId !== '0' && !(await this.events.isEventOf(task.taskId, afterId))) {
      throw AppException.invalidField('Last-Event-ID', 'must be the id of an event of this stream');
    }
    // A browser's EventSource reconnects to every stream that ends, for good, unless it is answered 204: the
    // reconnect after a finished task's last event gets that, not an empty stream every RECONNECT_MS.
    if (afterId !== '0' && TERMINAL.has(task.status)) {
      const rest = await this.events.after(task.taskId, afterId, 1);
      if (rest.events.length === 0 && rest.taskStatus !== null && TERMINAL.has(rest.taskStatus)) return null;
    }
    // Each open stream holds a socket and a poll a second: bounded so one user (or all) cannot exhaust them.
    if (this.streams.size >= this.config.maxStreams) {
      throw AppException.overloaded('Too many event streams are open on this server; retry later', 5000);
    }
    const mine = this.perUser.get(principal.userId) ?? 0;
    if (mine >= this.config.maxStreamsPerUser) {
      const limited = new AppException(
        ErrorCode.RateLimited,
        `At most ${this.config.maxStreamsPerUser} task event streams may be open at once; close one first`,
      );
      // A slot frees only when one of the caller's streams ends (no window to wait out): retry at SSE's pace.
      limited.headers['Retry-After'] = String(RECONNECT_MS / 1000);
      throw limited;
    }
    const stream: OpenStream = {
      userId: principal.userId,
      out: new PassThrough(),
      closed: false,
      credentialHolds: () => this.credentials.holds(headers, principal),
      credentialCheckedAt: Date.now(),
    };
    this.streams.add(stream);
    this.byOut.set(stream.out, stream);
    this.perUser.set(principal.userId, mine + 1);
    stream.out.on('close', () => this.close(stream));
    stream.out.write(`retry: ${RECONNECT_MS}\n\n`);
    const heartbeat = setInterval(() => {
      if (!stream.closed) stream.out.write(': heartbeat\n\n');
    }, this.config.eventsHeartbeatMs);
    heartbeat.unref();
    this.follow(stream, task.taskId, afterId)
      .catch((error: unknown) => this.logger.error(`task event stream failed: ${String(error)}`))
      .finally(() => {
        clearInterval(heartbeat);
        this.close(stream);
      });
    return stream.out;
  }

  private async follow(stream: OpenStream, taskId: string, afterId: string): Promise<void> {
    let last = afterId;
    while (!stream.closed) {
      // Subscribed before the read, so a signal for a commit that the read just missed still wakes us.
      const woken = this.nextChance(stream, taskId);
      const page = await this.events.after(taskId, last, BATCH);
      // Security: a stream lives until its task ends (up to the queue timeout); a revoked key, a disabled or
      // demoted account or a logout-all ends it as it would refuse a new request.
      if (!(await this.credentialStillHolds(stream))) {
        stream.out.write(CREDENTIAL_ENDED);
        return;
      }
      for (const event of page.events) {
        if (stream.closed) return;
        if (!stream.out.write(formatEvent(event))) await this.drained(stream);
        last = event.id;
      }
      const drainedAll = page.events.length < BATCH;
      // The status comes from the same snapshot as the events: terminal and drained means nothing follows.
      if (page.taskStatus === null || (drainedAll && TERMINAL.has(page.taskStatus))) {
        stream.wake?.();
        return;
      }
      if (drainedAll) await woken;
      else stream.wake?.();
    }
  }

  /** At most once per CREDENTIAL_CHECK_MS; a check that cannot tell (the database is down) keeps the stream. */
  private async credentialStillHolds(stream: OpenStream): Promise<boolean> {
    const now = Date.now();
    if (now - stream.credentialCheckedAt < CREDENTIAL_CHECK_MS) return true;
    stream.credentialCheckedAt = now;
    try {
      return await stream.credentialHolds();
    } catch {
      return true;
    }
  }

  /** Resolves on a signal for the task, after the fallback poll, or when the stream closes. */
  private nextChance(stream: OpenStream, taskId: string): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(poll);
        unsubscribe();
        if (stream.wake === done) stream.wake = undefined;
        resolve();
      };
      const poll = setTimeout(done, FALLBACK_POLL_MS);
      const unsubscribe = this.signal.subscribe(taskId, done);
      stream.wake = done;
    });
  }

  private drained(stream: OpenStream): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        stream.out.off('drain', done);
        stream.out.off('close', done);
        resolve();
      };
      stream.out.once('drain', done);
      stream.out.once('close', done);
    });
  }

  private close(stream: OpenStream): void {
    if (stream.closed) return;
    stream.closed = true;
    this.streams.delete(stream);
    const left = (this.perUser.get(stream.userId) ?? 1) - 1;
    if (left > 0) this.perUser.set(stream.userId, left);
    else this.perUser.delete(stream.userId);
    stream.wake?.();
    stream.out.end();
  }
}
