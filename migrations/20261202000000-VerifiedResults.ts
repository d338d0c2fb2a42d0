import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Verified results (issue 18). Tasks gain their quorum (`quorum` agreeing runs out of `min_nodes`), the most
 * runs they may take before `no_consensus` (`max_runs`), how many succeeded runs they currently seek
 * (`run_target`: `min_nodes`, one more after each disagreement) and the run whose output won
 * (`canonical_run_id`). Runs keep the receipt the node signed and its signature, and their verdict. Nodes keep
 * their record (valid / invalid / error / lost-lease counts, the current valid streak) and a quarantine.
 */
export class VerifiedResults20261202000000 implements MigrationInterface {
  name = 'VerifiedResults20261202000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks ADD COLUMN quorum integer`);
    await q.query(`ALTER TABLE tasks ADD COLUMN max_runs integer`);
    await q.query(`ALTER TABLE tasks ADD COLUMN run_target integer`);
    await q.query(`UPDATE tasks SET quorum = min_nodes, run_target = min_nodes,
                          max_runs = CASE WHEN min_nodes > 1 THEN min_nodes + 2 ELSE min_nodes END`);
    // Defaults fit a task of min_nodes 1 (the column's default); the service always sets all three.
    for (const column of ['quorum', 'max_runs', 'run_target']) {
      await q.query(`ALTER TABLE tasks ALTER COLUMN ${column} SET DEFAULT 1`);
      await q.query(`ALTER TABLE tasks ALTER COLUMN ${column} SET NOT NULL`);
    }
    // Adaptive replication: a trusted node may run a task alone (run_target and quorum drop to 1 at its claim).
    await q.query(
      `ALTER TABLE tasks ADD COLUMN verification_mode varchar(16) NOT NULL DEFAULT 'replicate'
         CHECK (verification_mode IN ('replicate', 'adaptive'))`,
    );
    await q.query(
      `ALTER TABLE tasks ADD CONSTRAINT tasks_quorum_check
         CHECK (quorum BETWEEN 1 AND min_nodes AND run_target BETWEEN 1 AND max_runs AND max_runs >= min_nodes)`,
    );
    await q.query(`ALTER TABLE tasks ADD COLUMN canonical_run_id uuid`);
    await q.query(`DROP INDEX idx_tasks_claimable`);
    await q.query(
      `CREATE INDEX idx_tasks_claimable ON tasks (priority DESC, created_at, task_id)
         WHERE status IN ('pending', 'running') AND active_runs < run_target`,
    );

    // The receipt exactly as the node signed it (RFC 8785 form rebuilt by the server) and the signature.
    await q.query(`ALTER TABLE task_runs ADD COLUMN receipt jsonb`);
    await q.query(`ALTER TABLE task_runs ADD COLUMN signature varchar(128)`);
    // The key that signature verified against when the result was accepted: a node may register a new one.
    await q.query(`ALTER TABLE task_runs ADD COLUMN node_public_key varchar(64)`);
    await q.query(
      `ALTER TABLE task_runs ADD COLUMN verdict varchar(16) CHECK (verdict IN ('valid', 'invalid'))`,
    );
    await q.query(`ALTER TABLE task_runs ADD COLUMN quorum_run boolean NOT NULL DEFAULT false`);
    // One operator never forms a quorum alone: among a quorum task's live and succeeded runs, one per owner.
    await q.query(
      `CREATE UNIQUE INDEX task_runs_quorum_owner_key ON task_runs (task_id, node_owner_id)
         WHERE quorum_run AND status IN ('leased', 'succeeded')`,
    );

    await q.query(`ALTER TABLE nodes ADD COLUMN runs_valid integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE nodes ADD COLUMN runs_invalid integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE nodes ADD COLUMN runs_error integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE nodes ADD COLUMN runs_lost integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE nodes ADD COLUMN valid_streak integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE nodes ADD COLUMN quarantined_at timestamptz`);
    await q.query(`ALTER TABLE nodes ADD COLUMN quarantine_reason varchar(256)`);
    // runs_invalid when an admin last lifted a quarantine: the next one needs new invalid runs.
    await q.query(`ALTER TABLE nodes ADD COLUMN quarantine_lifted_invalid integer NOT NULL DEFAULT 0`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const column of [
      'quarantine_lifted_invalid',
      'quarantine_reason',
      'quarantined_at',
      'valid_streak',
      'runs_lost',
      'runs_error',
      'runs_invalid',
      'runs_valid',
    ]) {
      await q.query(`ALTER TABLE nodes DROP COLUMN ${column}`);
    }
    await q.query(`DROP INDEX task_runs_quorum_owner_key`);
    for (const column of ['quorum_run', 'verdict', 'node_public_key', 'signature', 'receipt']) {
      await q.query(`ALTER TABLE task_runs DROP COLUMN ${column}`);
    }
    await q.query(`DROP INDEX idx_tasks_claimable`);
    await q.query(
      `CREATE INDEX idx_tasks_claimable ON tasks (priority DESC, created_at, task_id)
         WHERE status IN ('pending', 'running') AND active_runs < min_nodes`,
    );
    await q.query(`ALTER TABLE tasks DROP COLUMN canonical_run_id`);
    await q.query(`ALTER TABLE tasks DROP CONSTRAINT tasks_quorum_check`);
    for (const column of ['verification_mode', 'run_target', 'max_runs', 'quorum']) {
      await q.query(`ALTER TABLE tasks DROP COLUMN ${column}`);
    }
  }
}
