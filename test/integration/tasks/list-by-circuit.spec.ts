import { TasksRepository } from '../../../src/tasks/tasks.repository';
import { DatabaseFixture, databaseFixture, rowsReadBy } from '../../support/database-fixture';
import { describeEachDatabase } from '../../support/databases';

const OTHER_TASKS = 3000;
const BIG_CIRCUIT_TASKS = 1000;

/**
 * `GET /tasks?circuit_id=` reads a circuit's tasks through idx_tasks_circuit_page. The circuit's tasks here are
 * the oldest of many: a plan that walks the creator's (or everyone's) tasks newest first and filters on the
 * circuit reads all the others before it finds them. Counted as rows read from tasks
 * (pg_stat_xact_user_tables), not as time.
 */
describeEachDatabase('listing tasks by circuit on %s', (database) => {
  let fixture: DatabaseFixture;
  let tasks: TasksRepository;
  let alice: string;
  let circuit: string;
  let other: string;
  let big: string;

  beforeAll(async () => {
    fixture = await databaseFixture(database, [TasksRepository]);
    tasks = fixture.moduleRef.get(TasksRepository);
    const { session } = fixture;
    const users = await session.query<{ user_id: string }>(
      `INSERT INTO users (username, password_hash, role) VALUES ('alice', 'x', 'user'), ('bob', 'x', 'user')
       RETURNING user_id`,
    );
    alice = users[0].user_id;
    const bob = users[1].user_id;
    [circuit, other, big] = (
      await session.query<{ circuit_id: string }>(
        `INSERT INTO circuits (circuit_id, name, protocol, curve, n_public, verification_key)
         SELECT encode(sha256(convert_to(k, 'UTF8')), 'hex'), 'c', 'groth16', 'bn128', 1, k
           FROM (VALUES ('{"k":1}'), ('{"k":2}'), ('{"k":3}')) AS keys (k)
         RETURNING circuit_id`,
      )
    ).map((row) => row.circuit_id);
    const insert = (creator: string, circuitId: string, age: string, deleted = false) =>
      session.query(
        `INSERT INTO tasks (creator_id, task_type, circuit_id, status, max_execution_time_sec, created_at, deleted_at)
         VALUES ($1, 'zk_proof', $2, 'pending', 60, now() - $3::interval, CASE WHEN $4 THEN now() END)`,
        [creator, circuitId, age, deleted],
      );
    // The circuit's tasks, oldest of all: alice's three (one running), bob's one, and a deleted one of alice's.
    for (const [creator, age] of [
      [alice, '10 days'],
      [alice, '9 days'],
      [bob, '8 days'],
      [alice, '7 days'],
    ] as const) {
      await insert(creator, circuit, age);
    }
    await insert(alice, circuit, '6 days', true);
    await session.query(
      `UPDATE tasks SET status = 'running' WHERE created_at = (SELECT min(created_at) FROM tasks)`,
    );
    await insert(alice, other, '5 days');
    await session.query(
      `INSERT INTO tasks (creator_id, task_type, status, max_execution_time_sec, created_at)
       SELECT $1, 'computation', 'completed', 60, now() - make_interval(secs => i)
         FROM generate_series(1, $2::int) AS i`,
      [alice, OTHER_TASKS],
    );
    await session.query(
      `INSERT INTO tasks (creator_id, task_type, circuit_id, status, max_execution_time_sec, created_at)
       SELECT $1, 'zk_proof', $2, 'completed', 60, now() - make_interval(secs => i) - interval '1 day'
         FROM generate_series(1, $3::int) AS i`,
      [alice, big, BIG_CIRCUIT_TASKS],
    );
  });

  afterAll(() => fixture?.close());

  const listed = async (filter: Parameters<TasksRepository['list']>[0], fetch = 51) => {
    let rows: Awaited<ReturnType<TasksRepository['list']>> = [];
    const read = await rowsReadBy(fixture, 'tasks', async () => {
      rows = await tasks.list(filter, null, fetch);
    });
    return { rows, read };
  };

  const everyones = async () => {
    const all = await listed({ creatorId: null, circuitId: circuit });
    expect(all.rows).toHaveLength(4);
    return all;
  };

  // Before the first ANALYZE the planner guesses: filtered by creator as well, it may walk the creator's tasks
  // (idx_tasks_creator_page) instead; the admins' list is planned on the circuit's index even then.
  it('an admin’s list reads only the circuit’s tasks on a fresh database (no statistics)', async () => {
    expect((await everyones()).read).toBeLessThan(50);
  });

  // The state autovacuum (PostgreSQL) or EmbeddedVacuum (PGlite) keeps the table in.
  it('every list by circuit reads only the circuit’s tasks once the table has statistics', async () => {
    await fixture.session.query('ANALYZE tasks');
    const own = await listed({ creatorId: alice, circuitId: circuit });
    expect(own.rows.map((t) => [t.creatorId, t.circuitId])).toEqual([
      [alice, circuit],
      [alice, circuit],
      [alice, circuit],
    ]);
    const running = await listed({ creatorId: alice, circuitId: circuit, status: 'running' });
    expect(running.rows).toHaveLength(1);
    const all = await everyones();
    // A walk newest first reads the 3 000 others first; the index reads the circuit's five rows.
    expect([own.read, running.read, all.read].filter((read) => read >= 50)).toEqual([]);
  });

  // The index holds the page order after the circuit: a page reads its own rows, not all of a big circuit's.
  it('reads one page of a circuit with many tasks, not all of them, on every page', async () => {
    await fixture.session.query('ANALYZE tasks');
    for (const creatorId of [alice, null]) {
      const first = await listed({ creatorId, circuitId: big }, 6);
      expect(first.rows).toHaveLength(6);
      const last = first.rows[4];
      let second: typeof first.rows = [];
      const secondRead = await rowsReadBy(fixture, 'tasks', async () => {
        second = await tasks.list(
          { creatorId, circuitId: big },
          { t: last.createdAt.toISOString(), id: last.taskId },
          6,
        );
      });
      expect(second[0].taskId).toBe(first.rows[5].taskId);
      // Sorting the circuit per page reads its 1 000 tasks each time.
      expect({ creatorId, over50: [first.read, secondRead].filter((read) => read >= 50) }).toEqual({
        creatorId,
        over50: [],
      });
    }
  });

  it('pages a circuit’s tasks newest first with the other filters', async () => {
    const first = await tasks.list({ creatorId: alice, circuitId: circuit }, null, 2);
    expect(first).toHaveLength(2);
    const last = first[1];
    const rest = await tasks.list(
      { creatorId: alice, circuitId: circuit },
      { t: last.createdAt.toISOString(), id: last.taskId },
      2,
    );
    expect(rest).toHaveLength(1);
    expect([...first, ...rest].map((t) => t.createdAt.getTime())).toEqual(
      [...first, ...rest].map((t) => t.createdAt.getTime()).sort((a, b) => b - a),
    );
    expect(
      await tasks.list({ creatorId: alice, circuitId: other, taskType: 'zk_proof' }, null, 10),
    ).toHaveLength(1);
    expect(
      await tasks.list({ creatorId: alice, circuitId: other, taskType: 'computation' }, null, 10),
    ).toEqual([]);
    expect(await tasks.list({ creatorId: alice, circuitId: 'ab'.repeat(32) }, null, 10)).toEqual([]);
  });
});
