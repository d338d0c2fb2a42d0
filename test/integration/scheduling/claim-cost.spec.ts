import { Test, TestingModule } from '@nestjs/testing';
import { ConfigModule } from '../../../src/config/config.module';
import { DatabaseModule } from '../../../src/database/database.module';
import { DatabaseSession, TransactionRunner } from '../../../src/database/transaction-runner';
import { ClaimsRepository } from '../../../src/scheduling/claims.repository';
import { createTestEnv, describeEachDatabase, TestEnv } from '../../support/databases';

const QUEUED = 200;
const HISTORY = 300;

/**
 * A claim checks, for every queued task it considers, that the node has not run it already. That check must
 * be one index lookup per task: written as NOT EXISTS it was planned (once, while the node had no runs, and
 * kept by the prepared statement) as a rescan of all of the node's runs per queued task, so a node's claims got
 * slower with every run it finished (77 ms at 3 000 queued and 112 runs, growing). Counted as rows the claim's
 * transaction read from task_runs (pg_stat_xact_user_tables), not as time.
 */
describeEachDatabase('a claim on %s reads task_runs per queued task, not per past run', (database) => {
  let env: TestEnv;
  let moduleRef: TestingModule;
  let session: DatabaseSession;
  let claims: ClaimsRepository;
  let tx: TransactionRunner;

  beforeAll(async () => {
    env = await createTestEnv(database);
    moduleRef = await Test.createTestingModule({
      imports: [ConfigModule.forRoot(env.config), DatabaseModule],
      providers: [ClaimsRepository],
    }).compile();
    await moduleRef.init();
    session = moduleRef.get(DatabaseSession);
    claims = moduleRef.get(ClaimsRepository);
    tx = moduleRef.get(TransactionRunner);
    const [{ user_id }] = await session.query<{ user_id: string }>(
      `INSERT INTO users (username, password_hash, role) VALUES ('claimer', 'x', 'user') RETURNING user_id`,
    );
    await session.query(
      `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb, status)
       VALUES ('veteran', $1, 'r', 'compute', 100, 4, 8, 'online')`,
      [user_id],
    );
    // The node's history: tasks it completed, one succeeded run each.
    await session.query(
      `WITH done AS (
         INSERT INTO tasks (creator_id, task_type, status, max_execution_time_sec)
         SELECT $1, 'computation', 'completed', 60 FROM generate_series(1, $2::int) RETURNING task_id)
       INSERT INTO task_runs (task_id, node_id, node_owner_id, status, completed_at)
       SELECT task_id, 'veteran', $1, 'succeeded', now() FROM done`,
      [user_id, HISTORY],
    );
    await session.query(
      `INSERT INTO tasks (creator_id, task_type, max_execution_time_sec)
       SELECT $1, 'computation', 60 FROM generate_series(1, $2::int)`,
      [user_id, QUEUED],
    );
  });

  afterAll(async () => {
    await moduleRef?.close();
    await env?.dispose();
  });

  /** Rows read from task_runs by `work`, in one transaction (the counters are per transaction). */
  function taskRunRowsReadBy(work: () => Promise<unknown>): Promise<number> {
    return tx.run(async () => {
      const before = await taskRunReads();
      await work();
      return (await taskRunReads()) - before;
    });
  }

  async function taskRunReads(): Promise<number> {
    const [row] = await session.query<{ n: string }>(
      `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n
         FROM pg_stat_xact_user_tables WHERE relname = 'task_runs'`,
    );
    return Number(row.n);
  }

  it('stays proportional to the queue as the node’s history grows', async () => {
    // Past the prepared statement's first (custom) plans, into the plan it keeps.
    for (let i = 0; i < 6; i++) await claims.claim('veteran', 1, 1000, 30, null);
    // Negative control: the counter sees a rescan of the node's runs per queued task when one is asked for.
    const rescan = await taskRunRowsReadBy(() =>
      session.query(
        `SELECT count(*) FROM tasks t
          WHERE t.status = 'pending'
            AND NOT EXISTS (SELECT 1 FROM task_runs r WHERE r.node_id = 'veteran' AND r.task_id::text = t.task_id::text)`,
      ),
    );
    expect(rescan).toBeGreaterThanOrEqual((QUEUED - 6) * HISTORY);

    const read = await taskRunRowsReadBy(async () => {
      const leased = await claims.claim('veteran', 16, 1000, 30, null);
      expect(leased).toHaveLength(16);
    });
    expect(read).toBeLessThan(QUEUED * 3);
  });
});
