import { Test, TestingModule } from '@nestjs/testing';
import { ConfigModule } from '../../src/config/config.module';
import { DatabaseModule } from '../../src/database/database.module';
import { DatabaseSession, TransactionRunner } from '../../src/database/transaction-runner';
import { ClaimsRepository } from '../../src/scheduling/claims.repository';
import { createTestEnv, TestDatabaseKind, TestEnv } from './databases';

export interface ClaimFixture {
  env: TestEnv;
  moduleRef: TestingModule;
  session: DatabaseSession;
  tx: TransactionRunner;
  claims: ClaimsRepository;
  close(): Promise<void>;
}

/**
 * The claim statement on a fresh database of `database`, without the app: one online compute node
 * `nodeId` of one user, `history` tasks it completed (one succeeded run each) and `queued` pending tasks.
 */
export async function claimFixture(
  database: TestDatabaseKind,
  { nodeId, history, queued }: { nodeId: string; history: number; queued: number },
): Promise<ClaimFixture> {
  const env = await createTestEnv(database);
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(env.config), DatabaseModule],
    providers: [ClaimsRepository],
  }).compile();
  await moduleRef.init();
  const session = moduleRef.get(DatabaseSession);
  const [{ user_id }] = await session.query<{ user_id: string }>(
    `INSERT INTO users (username, password_hash, role) VALUES ('claimer', 'x', 'user') RETURNING user_id`,
  );
  await session.query(
    `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb, status)
     VALUES ($1, $2, 'r', 'compute', 100, 4, 8, 'online')`,
    [nodeId, user_id],
  );
  await session.query(
    `WITH done AS (
       INSERT INTO tasks (creator_id, task_type, status, max_execution_time_sec)
       SELECT $1, 'computation', 'completed', 60 FROM generate_series(1, $2::int) RETURNING task_id)
     INSERT INTO task_runs (task_id, node_id, node_owner_id, status, completed_at)
     SELECT task_id, $3, $1, 'succeeded', now() FROM done`,
    [user_id, history, nodeId],
  );
  await session.query(
    `INSERT INTO tasks (creator_id, task_type, max_execution_time_sec)
     SELECT $1, 'computation', 60 FROM generate_series(1, $2::int)`,
    [user_id, queued],
  );
  return {
    env,
    moduleRef,
    session,
    tx: moduleRef.get(TransactionRunner),
    claims: moduleRef.get(ClaimsRepository),
    close: async () => {
      await moduleRef.close();
      await env.dispose();
    },
  };
}
