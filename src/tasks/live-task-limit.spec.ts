import { FakeClock } from '../common/clock/fake-clock';
import { AppException } from '../common/errors/app.exception';
import { LiveTaskLimit, RECOUNT_AFTER_MS } from './live-task-limit';
import { TasksConfig } from './tasks.config';
import type { TasksRepository } from './tasks.repository';

/** The database's count, as the repository would give it, and how often it was asked. */
class CountingTasks {
  live = new Map<string, number>();
  counts = 0;

  countLive(userId: string, atMost: number): Promise<number> {
    this.counts += 1;
    return Promise.resolve(Math.min(atMost, this.live.get(userId) ?? 0));
  }
}

describe('LiveTaskLimit', () => {
  const setup = (maxLivePerUser: number) => {
    const tasks = new CountingTasks();
    const clock = new FakeClock();
    const config = new TasksConfig({
      eventsHeartbeatMs: 15_000,
      maxStreamsPerUser: 8,
      maxStreams: 2000,
      maxLivePerUser,
      fairShareStepMs: 1000,
    });
    const limit = new LiveTaskLimit(config, tasks as unknown as TasksRepository, clock);
    return { tasks, clock, limit };
  };

  it('asks the database at most once a second while the user is under half the limit', async () => {
    const { tasks, clock, limit } = setup(100);
    for (let i = 0; i < 10; i++) await limit.admit('u');
    expect(tasks.counts).toBe(1);
    clock.advance(RECOUNT_AFTER_MS);
    await limit.admit('u');
    expect(tasks.counts).toBe(2);
    // Each user has a count of their own.
    await limit.admit('v');
    expect(tasks.counts).toBe(3);
  });

  it('counts every submission from half the limit on, this replica’s admissions included', async () => {
    const { tasks, limit } = setup(10);
    tasks.live.set('u', 3);
    await limit.admit('u'); // counted: 3, remembered 4
    await limit.admit('u'); // 4 < 5: from memory, remembered 5
    expect(tasks.counts).toBe(1);
    await limit.admit('u'); // 5 is half: counted again
    expect(tasks.counts).toBe(2);
  });

  it('refuses at the limit with 429 live_task_limit, and sees room again as soon as the count drops', async () => {
    const { tasks, limit } = setup(4);
    tasks.live.set('u', 4);
    const refused = await limit.admit('u').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(AppException);
    const error = refused as AppException;
    expect(error.getStatus()).toBe(429);
    expect(error.publicReason).toBe('live_task_limit');
    expect(error.extra).toEqual({ limit: { live_tasks: 4, max_live_tasks: 4 } });
    expect(error.headers['Retry-After']).toBe('5');
    // A refusal is not remembered: the next submission counts, and a task that ended makes room at once.
    tasks.live.set('u', 3);
    await expect(limit.admit('u')).resolves.toBe(3); // the open tasks before this one
  });

  it('never lets a count a second old hide tasks submitted elsewhere near the limit', async () => {
    const { tasks, clock, limit } = setup(4);
    await limit.admit('u'); // counted 0, remembered 1
    tasks.live.set('u', 4); // another replica filled the user's room
    clock.advance(RECOUNT_AFTER_MS);
    await expect(limit.admit('u')).rejects.toBeInstanceOf(AppException);
  });
});
