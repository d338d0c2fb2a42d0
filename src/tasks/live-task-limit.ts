import { Injectable } from '@nestjs/common';
import { LruCache } from '../common/cache/lru-cache';
import { Clock } from '../common/clock/clock';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { TasksConfig } from './tasks.config';
import { TasksRepository } from './tasks.repository';

/** How long a count stands in for a new one while its user is far below the limit. */
export const RECOUNT_AFTER_MS = 1000;
/** Users whose counts are remembered (the rest are counted again at their next submission). */
const REMEMBERED_USERS = 10_000;
/** What a refused client is told to wait: open tasks end by running, so there is no exact time to give. */
const RETRY_AFTER_MS = 5000;

interface Counted {
  live: number;
  atMs: number;
}

/**
 * TASK_MAX_LIVE_PER_USER: a user's pending and running tasks are bounded, so that one script cannot fill the
 * database and the queue without end (the rate limits bound how fast, not how many). While a user is far below
 * the limit (under half of it) a count at most RECOUNT_AFTER_MS old, plus this replica's admissions since,
 * stands in for a query; near it, every submission counts. Submissions in flight at once (on this or another
 * replica) all see the same count, so a burst may pass the limit by at most its own size.
 */
@Injectable()
export class LiveTaskLimit {
  private readonly counted = new LruCache<string, Counted>({ maxEntries: REMEMBERED_USERS });

  constructor(
    private readonly config: TasksConfig,
    private readonly tasks: TasksRepository,
    private readonly clock: Clock,
  ) {}

  /**
   * Counts the submission in, or refuses it with 429 `rate_limited`, reason `live_task_limit`. Returns the
   * user's open tasks before this one, as counted (the fair order's bound on how far ahead the user's place is).
   */
  async admit(userId: string): Promise<number> {
    const max = this.config.maxLivePerUser;
    const nowMs = this.clock.nowMs();
    const seen = this.counted.get(userId);
    if (seen && nowMs - seen.atMs < RECOUNT_AFTER_MS && seen.live < max / 2) {
      seen.live += 1;
      return seen.live - 1;
    }
    const live = await this.tasks.countLive(userId, max);
    if (live >= max) {
      this.counted.delete(userId);
      const limited = new AppException(
        ErrorCode.RateLimited,
        `You have ${max} or more pending or running tasks, the most one user may have: wait for some to end, ` +
          'or cancel those you no longer need',
        { reason: ErrorReason.LiveTaskLimit, extra: { limit: { live_tasks: live, max_live_tasks: max } } },
      );
      limited.headers['Retry-After'] = String(RETRY_AFTER_MS / 1000);
      throw limited;
    }
    this.counted.set(userId, { live: live + 1, atMs: nowMs });
    return live;
  }
}
