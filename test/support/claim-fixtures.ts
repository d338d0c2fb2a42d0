import { ClaimsRepository } from '../../src/scheduling/claims.repository';
import { DatabaseFixture, databaseFixture, insertNodeOwner } from './database-fixture';
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
  const user_id = await insertNodeOwner(session, { username: 'claimer', nodeId });
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
