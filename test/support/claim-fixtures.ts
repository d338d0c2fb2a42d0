import { ClaimsRepository } from '../../src/scheduling/claims.repository';
import { DatabaseFixture, databaseFixture } from './database-fixture';
import { TestDatabaseKind } from './databases';

export interface ClaimFixture extends DatabaseFixture {
  claims: ClaimsRepository;
}

/**
 * The claim statement on a fresh database of `database`, without the app: one online compute node
 * `nodeId` of one user, `history` tasks it completed (one succeeded run each) and `queued` pending tasks.
 */
export async function claimFixture(
  database: TestDatabaseKind,
  { nodeId, history, queued }: { nodeId: string; history: number; queued: number },
): Promise<ClaimFixture> {
  const fixture = await databaseFixture(database, [ClaimsRepository]);
  const { session } = fixture;
  const [{ user_id }] = await session.query<{ user_id: string }>(
    `INSERT INTO users (username, password_hash, role) VALUES ('claimer', 'x', 'user') RETURNING user_id`,
  );
  await session.query(
    `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb, status, public_key)
     VALUES ($1, $2, 'r', 'compute', 100, 4, 8, 'online', 'k')`,
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
  return { ...fixture, claims: fixture.moduleRef.get(ClaimsRepository) };
}
