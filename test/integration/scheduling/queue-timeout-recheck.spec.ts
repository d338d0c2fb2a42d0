import type { DatabaseSession } from '../../../src/database/transaction-runner';
import { TasksRepository } from '../../../src/tasks/tasks.repository';
import { DatabaseFixture, databaseFixture, insertNodeOwner } from '../../support/database-fixture';

/**
 * The queue timeout fails a quorum task still seeking a run only while none of its runs is leased. The sweep
 * locks its batch in one statement and fails it in a second, whose snapshot sees every claim that committed
 * before the lock: in one statement, a claim that leased the task's next run and committed while the statement
 * ran was re-checked on the task row only, and the task failed under the live lease. The second statement is
 * what this checks, given a batch in which such a task was locked. On PostgreSQL alone: PGlite is one session,
 * so no claim commits while the sweep runs.
 */
describe('the queue timeout of a quorum task that a claim leased meanwhile (PostgreSQL)', () => {
  let fixture: DatabaseFixture;
  let session: DatabaseSession;
  let tasks: TasksRepository;
  let taskId: string;

  beforeAll(async () => {
    fixture = await databaseFixture('postgres', [TasksRepository]);
    session = fixture.session;
    tasks = fixture.moduleRef.get(TasksRepository);
    const user_id = await insertNodeOwner(session, { username: 'owner', nodeId: 'claimer' });
    // A quorum task past its queue timeout, one of its two runs leased (the claim that committed meanwhile).
    [{ task_id: taskId }] = await session.query<{ task_id: string }>(
      `INSERT INTO tasks (creator_id, task_type, max_execution_time_sec, status, active_runs, min_nodes,
                          run_target, max_runs, quorum, verification_mode, queue_expires_at)
       VALUES ($1, 'computation', 60, 'running', 1, 2, 2, 2, 2, 'replicate', now() - interval '1 second')
       RETURNING task_id`,
      [user_id],
    );
    await session.query(
      `INSERT INTO task_runs (task_id, node_id, node_owner_id, status, lease_expires_at, lease_slot, quorum_run)
       VALUES ($1, 'claimer', $2, 'leased', now() + interval '1 hour', 1, true)`,
      [taskId, user_id],
    );
  });

  afterAll(() => fixture?.close());

  const statusOf = async () =>
    (await session.query<{ status: string }>(`SELECT status FROM tasks WHERE task_id = $1`, [taskId]))[0]
      .status;

  it('leaves the task running while a run of it is leased', async () => {
    // The sweep's statements in a batch whose lock raced such a claim: the second sees the claim's run.
    expect(await fixture.tx.run(() => tasks.failLockedQueued([taskId]))).toEqual([]);
    // The whole sweep, which would not pick it either (no race here: the concurrency cannot be forced).
    expect(await fixture.tx.run(() => tasks.expireQueued(10))).toEqual([]);
    expect(await statusOf()).toBe('running');
  });

  it('runs only in a transaction, which holds the batch’s locks between its two statements', async () => {
    await expect(tasks.expireQueued(10)).rejects.toThrow('expireQueued must run in a transaction');
  });

  it('fails it once none is leased (negative control)', async () => {
    await session.query(
      `UPDATE task_runs SET status = 'succeeded', completed_at = now() WHERE task_id = $1`,
      [taskId],
    );
    expect(await fixture.tx.run(() => tasks.failLockedQueued([taskId]))).toEqual([
      { taskId, taskType: 'computation' },
    ]);
    expect(await statusOf()).toBe('failed');
  });
});
