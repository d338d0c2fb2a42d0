import { randomUUID } from 'node:crypto';
import type { NewAuditRecord } from '../../../src/audit/audit-log.repository';
import type { DatabaseSession } from '../../../src/database/transaction-runner';
import { MAX_TASKS_PER_INSERT, TaskInsertBatcher } from '../../../src/tasks/task-insert-batcher';
import { TaskInsertsRepository } from '../../../src/tasks/task-inserts.repository';
import type { NewTask } from '../../../src/tasks/tasks.repository';
import { DatabaseFixture, databaseFixture } from '../../support/database-fixture';
import { describeEachDatabase } from '../../support/databases';

/**
 * Submissions that reach the database in one event-loop turn are written by one statement (group commit), and
 * each caller still gets its own task, audit row and `created` event; a row the database refuses fails alone.
 */
describeEachDatabase('task submissions on %s, batched per event-loop turn', (database) => {
  let fixture: DatabaseFixture;
  let session: DatabaseSession;
  let inserts: TaskInsertsRepository;
  let batcher: TaskInsertBatcher;
  let userId: string;

  beforeAll(async () => {
    fixture = await databaseFixture(database, [TaskInsertsRepository, TaskInsertBatcher]);
    session = fixture.session;
    inserts = fixture.moduleRef.get(TaskInsertsRepository);
    batcher = fixture.moduleRef.get(TaskInsertBatcher);
    [{ user_id: userId }] = await session.query<{ user_id: string }>(
      `INSERT INTO users (username, password_hash, role) VALUES ('submitter', 'x', 'user') RETURNING user_id`,
    );
  });

  afterAll(() => fixture?.close());

  afterEach(() => jest.restoreAllMocks());

  const task = (n: number, creatorId = userId): NewTask => ({
    creatorId,
    taskType: 'computation',
    inputs: { program: 'expression', expression: `${n}+1`, text: `quote " and backslash \\ ${n}` },
    inputsHash: String(n).padStart(64, '0'),
    minNodes: n % 2 === 0 ? 1 : 3,
    quorum: n % 2 === 0 ? 1 : 2,
    maxRuns: n % 2 === 0 ? 1 : 5,
    verificationMode: 'replicate',
    maxExecutionTimeSec: 30 + n,
    requireGpu: n % 3 === 0,
    requireProof: false,
    minCpuCores: n % 4 === 0 ? null : n,
    minMemoryGb: n % 4 === 0 ? null : n / 2,
    moduleId: null,
    circuitId: null,
    args: [`--n=${n}`, 'x"y'],
    deterministic: true,
    priority: n % 10,
    maxAttempts: 3,
    queueTimeoutSec: 600 + n,
    creatorOpenTasks: n,
  });
  const audit = (n: number): NewAuditRecord => ({
    userId,
    action: 'task.submitted',
    status: 'success',
    resourceType: 'task',
    resourceId: null,
    ipAddress: n % 2 === 0 ? '127.0.0.1' : null,
    userAgent: `agent ${n}`,
    requestId: `req-${n}`,
    errorMessage: null,
    metadata: n % 3 === 0 ? null : { n, task_type: 'computation' },
  });

  it('writes concurrent submissions in one statement, each with its own task, audit row and event', async () => {
    const many = jest.spyOn(inserts, 'insertMany');
    const one = jest.spyOn(inserts, 'insert');
    const numbers = Array.from({ length: 20 }, (_, i) => i + 1);
    const records = await Promise.all(numbers.map((n) => batcher.insert(task(n), audit(n))));

    expect(many).toHaveBeenCalledTimes(1);
    expect(one).not.toHaveBeenCalled();
    records.forEach((record, i) => {
      const n = numbers[i];
      expect(record).toMatchObject({
        creatorId: userId,
        status: 'pending',
        minNodes: task(n).minNodes,
        quorum: task(n).quorum,
        maxRuns: task(n).maxRuns,
        runTarget: task(n).minNodes,
        maxExecutionTimeSec: 30 + n,
        requireGpu: n % 3 === 0,
        minCpuCores: task(n).minCpuCores,
        minMemoryGb: task(n).minMemoryGb,
        priority: n % 10,
      });
    });
    const ids = records.map((record) => record.taskId);
    expect(new Set(ids).size).toBe(numbers.length);
    const rows = await session.query<{
      task_id: string;
      inputs: unknown;
      args: string[];
      expires_in: number;
      request_id: string;
    }>(
      `SELECT t.task_id, t.inputs, t.args, round(extract(epoch FROM t.queue_expires_at - t.created_at))::int AS expires_in,
              a.request_id
         FROM tasks t JOIN audit_log a ON a.resource_id = t.task_id::text AND a.action = 'task.submitted'
        WHERE t.task_id = ANY($1::uuid[])`,
      [ids],
    );
    expect(rows).toHaveLength(numbers.length);
    for (const row of rows) {
      const n = numbers[ids.indexOf(row.task_id)];
      expect(row).toMatchObject({
        inputs: task(n).inputs,
        args: task(n).args,
        expires_in: 600 + n,
        request_id: `req-${n}`,
      });
    }
    const [{ events }] = await session.query<{ events: number }>(
      `SELECT count(*)::int AS events FROM task_events WHERE task_id = ANY($1::uuid[]) AND event_type = 'status'`,
      [ids],
    );
    expect(events).toBe(numbers.length);
  });

  it('writes a lone submission with the one-task statement', async () => {
    const many = jest.spyOn(inserts, 'insertMany');
    const record = await batcher.insert(task(1), audit(1));
    expect(record.status).toBe('pending');
    expect(many).not.toHaveBeenCalled();
  });

  it('fails only the submission the database refuses', async () => {
    const many = jest.spyOn(inserts, 'insertMany');
    const outcomes = await Promise.allSettled([
      batcher.insert(task(1), audit(1)),
      batcher.insert(task(2, randomUUID()), audit(2)), // no such user: the foreign key refuses it
      batcher.insert(task(3), audit(3)),
    ]);
    expect(many).toHaveBeenCalledTimes(1);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const written = outcomes.flatMap((outcome) =>
      outcome.status === 'fulfilled' ? [outcome.value.taskId] : [],
    );
    const [{ n }] = await session.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM tasks WHERE task_id = ANY($1::uuid[])`,
      [written],
    );
    expect(n).toBe(2);
  });

  it('rejects the whole batch, writing nothing again, when it fails for a reason other than the database', async () => {
    const bug = new Error('a bug after the statement');
    jest.spyOn(inserts, 'insertMany').mockRejectedValueOnce(bug);
    const one = jest.spyOn(inserts, 'insert');
    const outcomes = await Promise.allSettled([
      batcher.insert(task(4), audit(4)),
      batcher.insert(task(5), audit(5)),
    ]);
    expect(outcomes).toEqual([
      { status: 'rejected', reason: bug },
      { status: 'rejected', reason: bug },
    ]);
    expect(one).not.toHaveBeenCalled();
  });

  it(`splits a burst into statements of at most ${MAX_TASKS_PER_INSERT}`, async () => {
    const many = jest.spyOn(inserts, 'insertMany');
    const count = MAX_TASKS_PER_INSERT + 6;
    const records = await Promise.all(
      Array.from({ length: count }, (_, i) => batcher.insert(task(i), audit(i))),
    );
    expect(new Set(records.map((record) => record.taskId)).size).toBe(count);
    expect(many.mock.calls.map(([items]) => items.length)).toEqual([MAX_TASKS_PER_INSERT, 6]);
  });

  it('writes on the caller’s transaction inside one, so a rollback takes the task with it', async () => {
    let taskId = '';
    await expect(
      fixture.tx.run(async () => {
        taskId = (await batcher.insert(task(7), audit(7))).taskId;
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    const rows = await session.query(`SELECT 1 FROM tasks WHERE task_id = $1`, [taskId]);
    expect(rows).toHaveLength(0);
  });
});
