import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Replay-safe claims (issue 19). A run remembers the `Idempotency-Key` of the claim that leased it, so a
 * repeat of that claim by the same node (its answer was lost) gets the same runs back instead of leasing
 * more that the node would never learn about. Null for claims sent without the header.
 */
export class ClaimReplay20261202110000 implements MigrationInterface {
  name = 'ClaimReplay20261202110000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_runs ADD COLUMN claim_key varchar(255)`);
    // Only live leases are ever looked up by key: the index stays as small as the set of leased runs.
    await q.query(
      `CREATE INDEX task_runs_claim_key_idx ON task_runs (node_id, claim_key)
         WHERE claim_key IS NOT NULL AND status = 'leased'`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX task_runs_claim_key_idx`);
    await q.query(`ALTER TABLE task_runs DROP COLUMN claim_key`);
  }
}
