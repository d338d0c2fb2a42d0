import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How many answers of a run's claim may still be held by a live caller: 1 at the lease, one more for each repeat
 * of the claim (same Idempotency-Key) answered with the run, one less for each claim that hands it back because
 * its caller left (`claim_abandoned`). The hand-back that brings it to 0 ends the lease: before, a hand-back ended
 * it even when a retry of the same claim had been answered with it and a live agent held it. Counted on the
 * run's row, under its lock, so the replays and hand-backs of one run may come in any order.
 */
export class ClaimHolders20261208100000 implements MigrationInterface {
  name = 'ClaimHolders20261208100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_runs ADD COLUMN claim_holders integer NOT NULL DEFAULT 1`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_runs DROP COLUMN claim_holders`);
  }
}
