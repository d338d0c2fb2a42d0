import type { Provider } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { ConfigModule } from '../../src/config/config.module';
import { DatabaseModule } from '../../src/database/database.module';
import { DatabaseSession, TransactionRunner } from '../../src/database/transaction-runner';
import { createTestEnv, TestDatabaseKind, TestEnv } from './databases';

export interface DatabaseFixture {
  env: TestEnv;
  moduleRef: TestingModule;
  session: DatabaseSession;
  tx: TransactionRunner;
  close(): Promise<void>;
}

/**
 * The app's database module on a fresh (migrated) database of `database`, with `providers` and settings `env`,
 * without the app.
 */
export async function databaseFixture(
  database: TestDatabaseKind,
  providers: Provider[],
  env: Record<string, string> = {},
): Promise<DatabaseFixture> {
  const testEnv = await createTestEnv(database, env);
  const moduleRef = await Test.createTestingModule({
    imports: [ConfigModule.forRoot(testEnv.config), DatabaseModule],
    providers,
  }).compile();
  await moduleRef.init();
  return {
    env: testEnv,
    moduleRef,
    session: moduleRef.get(DatabaseSession),
    tx: moduleRef.get(TransactionRunner),
    close: async () => {
      await moduleRef.close();
      await testEnv.dispose();
    },
  };
}

/**
 * Rows `work` read from `table`, counted by PostgreSQL in one transaction (pg_stat_xact_user_tables is per
 * transaction): how the plan-cost tests tell a bounded read from a rescan without timing anything.
 */
export function rowsReadBy(
  { session, tx }: Pick<DatabaseFixture, 'session' | 'tx'>,
  table: string,
  work: () => Promise<unknown>,
): Promise<number> {
  const reads = async () => {
    const [row] = await session.query<{ n: string }>(
      `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS n
         FROM pg_stat_xact_user_tables WHERE relname = $1`,
      [table],
    );
    return Number(row.n);
  };
  return tx.run(async () => {
    const before = await reads();
    await work();
    return (await reads()) - before;
  });
}

/**
 * A user `username` and an online compute node `nodeId` of theirs with a public key (one a claim accepts),
 * inserted directly; the user's id.
 */
export async function insertNodeOwner(
  session: DatabaseSession,
  { username, nodeId, publicKey = 'k' }: { username: string; nodeId: string; publicKey?: string },
): Promise<string> {
  const [{ user_id }] = await session.query<{ user_id: string }>(
    `INSERT INTO users (username, password_hash, role) VALUES ($1, 'x', 'user') RETURNING user_id`,
    [username],
  );
  await session.query(
    `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb, status, public_key)
     VALUES ($1, $2, 'r', 'compute', 100, 4, 8, 'online', $3)`,
    [nodeId, user_id, publicKey],
  );
  return user_id;
}
