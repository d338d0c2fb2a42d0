import type { NewAuditRecord } from '../../../src/audit/audit-log.repository';
import { ClaimsRepository } from '../../../src/scheduling/claims.repository';
import { TaskInsertBatcher } from '../../../src/tasks/task-insert-batcher';
import { FAIR_PLACE_SLACK_TASKS, TaskInsertsRepository } from '../../../src/tasks/task-inserts.repository';
import type { NewTask } from '../../../src/tasks/tasks.repository';
import { DatabaseFixture, databaseFixture } from '../../support/database-fixture';
import { describeEachDatabase, TestDatabaseKind } from '../../support/databases';

/**
 * TASK_FAIR_SHARE_STEP_MS at its highest: far longer than the test's submissions take, so that no place comes due
 * while they are sent (which ones have would depend on the machine's speed), and a step times many tasks passes
 * 2^31 ms.
 */
const STEP_MS = 3_600_000;

interface Users {
  flooder: string;
  newcomer: string;
}

/** The fixture's users, and one online compute node (of a third user) that takes tasks one claim at a time. */
async function setUp(database: TestDatabaseKind, stepMs: number) {
  const fixture = await databaseFixture(
    database,
    [TaskInsertsRepository, TaskInsertBatcher, ClaimsRepository],
    { TASK_FAIR_SHARE_STEP_MS: String(stepMs) },
  );
  const user = async (name: string) => {
    const [row] = await fixture.session.query<{ user_id: string }>(
      `INSERT INTO users (username, password_hash, role) VALUES ($1, 'x', 'user') RETURNING user_id`,
      [name],
    );
    return row.user_id;
  };
  const users: Users = { flooder: await user('flooder'), newcomer: await user('newcomer') };
  await fixture.session.query(
    `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb, status, public_key)
     VALUES ('worker', $1, 'r', 'compute', 100, 4, 8, 'online', 'k')`,
    [await user('operator')],
  );
  return { fixture, users };
}

/** A task of `creatorId`, who has `open` open tasks before it (as the live-task limit counts them). */
const task = (creatorId: string, open: number, minNodes = 1): NewTask => ({
  creatorId,
  taskType: 'computation',
  inputs: { program: 'expression', expression: '1+1' },
  inputsHash: '0'.repeat(64),
  minNodes,
  quorum: minNodes === 1 ? 1 : 2,
  maxRuns: minNodes,
  verificationMode: 'replicate',
  maxExecutionTimeSec: 60,
  requireGpu: false,
  requireProof: false,
  minCpuCores: null,
  minMemoryGb: null,
  moduleId: null,
  circuitId: null,
  args: [],
  deterministic: true,
  priority: 0,
  maxAttempts: 3,
  queueTimeoutSec: 600,
  creatorOpenTasks: open,
});

/** What a submission writes besides its task; the audit row plays no part here. */
const audit = (userId: string): NewAuditRecord => ({
  userId,
  action: 'task.submitted',
  status: 'success',
  resourceType: 'task',
  resourceId: null,
  ipAddress: null,
  userAgent: null,
  requestId: null,
  errorMessage: null,
  metadata: null,
});

/**
 * Fair order between users (TASK_FAIR_SHARE_STEP_MS): one user's flood of submissions does not queue another
 * user's task behind all of it, while each user's own tasks keep their submission order.
 */
describeEachDatabase('the claim order between users on %s', (database) => {
  let fixture: DatabaseFixture;
  let users: Users;
  let inserts: TaskInsertsRepository;
  let batcher: TaskInsertBatcher;
  let claims: ClaimsRepository;
  /** Each user's open tasks, counted up as the live-task limit would. */
  let opened: Map<string, number>;

  const open = (stepMs: number) => async () => {
    ({ fixture, users } = await setUp(database, stepMs));
    inserts = fixture.moduleRef.get(TaskInsertsRepository);
    batcher = fixture.moduleRef.get(TaskInsertBatcher);
    claims = fixture.moduleRef.get(ClaimsRepository);
    opened = new Map();
  };
  const next = (userId: string, minNodes = 1) => {
    const before = opened.get(userId) ?? 0;
    opened.set(userId, before + 1);
    return task(userId, before, minNodes);
  };
  const batched = (userId: string, minNodes = 1) => batcher.insert(next(userId, minNodes), audit(userId));
  const alone = (userId: string, minNodes = 1) => inserts.insert(next(userId, minNodes), audit(userId));
  const placesOf = async (taskIds: string[]) => {
    const rows = await fixture.session.query<{ task_id: string; at: number }>(
      `SELECT task_id, (extract(epoch FROM fair_at - now()) * 1000)::float8 AS at FROM tasks WHERE task_id = ANY($1)`,
      [taskIds],
    );
    return taskIds.map((id) => rows.find((row) => row.task_id === id)!.at);
  };

  /** A flood from one user (a batch of 20, then 10 one at a time), then one task of another user. */
  const floodThenNewcomer = async () => {
    const flood = await Promise.all(Array.from({ length: 20 }, () => batched(users.flooder)));
    for (let i = 0; i < 10; i++) flood.push(await alone(users.flooder));
    const newcomer = await alone(users.newcomer);
    return { flood: flood.map((t) => t.taskId), newcomer: newcomer.taskId };
  };

  /** The task ids in the order the node takes them, one claim at a time. */
  const claimAll = async (count: number) => {
    const order: string[] = [];
    for (let i = 0; i < count; i++) {
      const runs = await claims.claim('worker', 1, 64, 300, null);
      expect(runs).toHaveLength(1);
      order.push(runs[0].taskId);
    }
    return order;
  };

  describe('with a fair-share step', () => {
    beforeAll(open(STEP_MS));
    afterAll(() => fixture?.close());

    it('serves a newcomer’s task right after the flood’s first, and the flood in its own order', async () => {
      const { flood, newcomer } = await floodThenNewcomer();
      const order = await claimAll(31);
      expect(order.indexOf(newcomer)).toBe(1);
      expect(order.filter((id) => id !== newcomer)).toEqual(flood);
    });

    it('spaces a user’s tasks one step apart, whatever runs each needs', async () => {
      const records = await Promise.all([1, 3, 1, 2].map((minNodes) => batched(users.newcomer, minNodes)));
      records.push(await alone(users.newcomer, 1000));
      const at = await placesOf(records.map((r) => r.taskId));
      const gaps = at.slice(1).map((value, i) => Math.round(value - at[i]));
      expect(gaps).toEqual(Array(4).fill(STEP_MS));
    });

    it('gives concurrent submissions of one user places one after the other, never the same one', async () => {
      // Each on its own connection (on PostgreSQL): read from the tasks, they all got the same place.
      const records = await Promise.all(Array.from({ length: 8 }, () => alone(users.flooder)));
      const at = (await placesOf(records.map((r) => r.taskId))).sort((a, b) => a - b);
      const gaps = at.slice(1).map((value, i) => Math.round(value - at[i]));
      expect(gaps).toEqual(Array(7).fill(STEP_MS));
    });

    it('does not hold places of tasks that have ended against their creator, one still open or not', async () => {
      // The newcomer's places reach 40 steps and more ahead; all but the last of its tasks end.
      await Promise.all(Array.from({ length: 40 }, () => batched(users.newcomer)));
      await fixture.session.query(
        `UPDATE tasks SET status = 'completed'
          WHERE creator_id = $1 AND status IN ('pending', 'running')
            AND task_id <> (SELECT task_id FROM tasks WHERE creator_id = $1 ORDER BY fair_at DESC LIMIT 1)`,
        [users.newcomer],
      );
      opened.set(users.newcomer, 1);
      const oneOpen = await alone(users.newcomer);
      // A user with many open tasks is not held back: a large count leaves the place after the last one.
      opened.set(users.newcomer, 10_000_000);
      const manyOpen = await alone(users.newcomer);
      const [ahead, after] = await placesOf([oneOpen.taskId, manyOpen.taskId]);
      // One open task before it: at most that and the slack ahead of now, not after the old places.
      expect(ahead).toBeGreaterThan(0);
      expect(ahead).toBeLessThanOrEqual((1 + FAIR_PLACE_SLACK_TASKS + 1) * STEP_MS);
      expect(Math.round(after - ahead)).toBe(STEP_MS);
    });
  });

  // Negative control: the same submissions in submission order (the step at 0) put the newcomer last.
  describe('with the step at 0 (submission order)', () => {
    beforeAll(open(0));
    afterAll(() => fixture?.close());

    it('serves the newcomer’s task after the whole flood', async () => {
      const { flood, newcomer } = await floodThenNewcomer();
      const order = await claimAll(31);
      expect(order.indexOf(newcomer)).toBe(30);
      // One batch's tasks share their submission time (ties go by id); the ones sent one at a time keep order.
      expect(order.slice(20, 30)).toEqual(flood.slice(20));
    });
  });
});
