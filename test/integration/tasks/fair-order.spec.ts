import { ClaimsRepository } from '../../../src/scheduling/claims.repository';
import { TaskInsertBatcher } from '../../../src/tasks/task-insert-batcher';
import { TaskInsertsRepository } from '../../../src/tasks/task-inserts.repository';
import type { NewAuditRecord } from '../../../src/audit/audit-log.repository';
import type { NewTask } from '../../../src/tasks/tasks.repository';
import { DatabaseFixture, databaseFixture, rowsReadBy } from '../../support/database-fixture';
import { describeEachDatabase, TestDatabaseKind } from '../../support/databases';

/**
 * Far longer than the test's submissions take, so that no place comes due while they are sent: which ones have
 * would depend on the machine's speed (a newcomer also waits behind a flood's places that have come due).
 */
const STEP_MS = 60_000;

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

const task = (creatorId: string, minNodes = 1): NewTask => ({
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

  const open = (stepMs: number) => async () => {
    ({ fixture, users } = await setUp(database, stepMs));
    inserts = fixture.moduleRef.get(TaskInsertsRepository);
    batcher = fixture.moduleRef.get(TaskInsertBatcher);
    claims = fixture.moduleRef.get(ClaimsRepository);
  };

  /** A flood from one user (a batch of 20, then 10 one at a time), then one task of another user. */
  const floodThenNewcomer = async () => {
    const flood = await Promise.all(
      Array.from({ length: 20 }, () => batcher.insert(task(users.flooder), audit(users.flooder))),
    );
    for (let i = 0; i < 10; i++) flood.push(await inserts.insert(task(users.flooder), audit(users.flooder)));
    const newcomer = await inserts.insert(task(users.newcomer), audit(users.newcomer));
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

    it('spaces a user’s tasks one step per run they need, and forgets a queue that has drained', async () => {
      const records = await Promise.all(
        [1, 3, 1, 2].map((minNodes) => batcher.insert(task(users.newcomer, minNodes), audit(users.newcomer))),
      );
      const places = await fixture.session.query<{ task_id: string; at: number }>(
        `SELECT task_id, (extract(epoch FROM fair_at) * 1000)::float8 AS at FROM tasks WHERE task_id = ANY($1)`,
        [records.map((r) => r.taskId)],
      );
      const at = records.map((r) => places.find((p) => p.task_id === r.taskId)!.at);
      const gaps = at.slice(1).map((value, i) => Math.round(value - at[i]));
      expect(gaps).toEqual([3 * STEP_MS, 1 * STEP_MS, 2 * STEP_MS]);

      // Every open task of the user ends: the next one takes its place from now, not from the old places.
      await fixture.session.query(
        `UPDATE tasks SET status = 'completed' WHERE creator_id = $1 AND status IN ('pending', 'running')`,
        [users.newcomer],
      );
      const next = await inserts.insert(task(users.newcomer), audit(users.newcomer));
      const [{ ahead_ms }] = await fixture.session.query<{ ahead_ms: number }>(
        `SELECT (extract(epoch FROM fair_at - now()) * 1000)::float8 AS ahead_ms FROM tasks WHERE task_id = $1`,
        [next.taskId],
      );
      expect(ahead_ms).toBeGreaterThan(0);
      expect(ahead_ms).toBeLessThanOrEqual(STEP_MS);
    });

    it('finds its creator’s latest place without reading the creator’s other open tasks', async () => {
      const [{ user_id: heavy }] = await fixture.session.query<{ user_id: string }>(
        `INSERT INTO users (username, password_hash, role) VALUES ('heavy', 'x', 'user') RETURNING user_id`,
      );
      await fixture.session.query(
        `INSERT INTO tasks (creator_id, task_type, max_execution_time_sec, created_at, fair_at)
         SELECT $1, 'computation', 60, now() - s * interval '1 ms', now() + (400 - s) * interval '1 second'
           FROM generate_series(1, 400) AS s`,
        [heavy],
      );
      const one = () => inserts.insert(task(heavy), audit(heavy));
      const batch = () => Promise.all([1, 2, 3].map(() => batcher.insert(task(heavy), audit(heavy))));
      // A read of every open task would be 400 rows or more a statement.
      expect(await rowsReadBy(fixture, 'tasks', one)).toBeLessThan(10);
      expect(await rowsReadBy(fixture, 'tasks', batch)).toBeLessThan(20);
      // And the place found is the latest (399 s ahead, on the newest task): all four come after it.
      const [{ after }] = await fixture.session.query<{ after: number }>(
        `SELECT count(*)::int AS after FROM tasks WHERE creator_id = $1 AND fair_at > now() + interval '399.5 seconds'`,
        [heavy],
      );
      expect(after).toBe(4);
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
