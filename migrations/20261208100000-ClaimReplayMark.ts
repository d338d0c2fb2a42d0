import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * How many times a run's claim was answered again to a repeat with the same Idempotency-Key. A claim whose
 * caller left hands back what it leased (`claim_abandoned`), but a retry of that caller may have replayed the
 * same runs to a live agent in the meantime: those it must not end. The replay counts itself and the hand-back
 * ends only a run whose count is still the one its claim saw, each under the run's row lock, so whichever comes
 * second sees the first.
 */
export class ClaimReplayMark20261208100000 implements MigrationInterface {
  name = 'ClaimReplayMark20261208100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_runs ADD COLUMN claim_replays integer NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE task_runs DROP COLUMN claim_replays`);
  }
}
