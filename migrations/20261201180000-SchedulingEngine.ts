import { MigrationInterface, QueryRunner } from 'typeorm';

const RUN_STATUSES = `'leased', 'succeeded', 'failed', 'expired', 'cancelled', 'rejected'`;

/**
 * The scheduling engine of issue 16. Tasks gain what the queue needs (priority, attempts, backoff, queue
 * timeout, the module/circuit they run, a soft delete) and `task_runs` becomes the run table: one row per lease
 * of a task to a node, with a fence from a sequence (never from time: `now()` has 1 ms resolution), the lease
 * expiry, the node's owner at claim time, the hashes the node reported and the result it submitted.
 */
export class SchedulingEngine20261201180000 implements MigrationInterface {
  name = 'SchedulingEngine20261201180000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE tasks ADD COLUMN status_reason varchar(64)`);
    await q.query(`ALTER TABLE tasks ADD COLUMN priority smallint NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE tasks ADD COLUMN attempts integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE tasks ADD COLUMN max_attempts integer NOT NULL DEFAULT 3`);
    // Runs that count towards min_nodes: leased plus succeeded. The claim's compare-and-set is on this column.
    await q.query(`ALTER TABLE tasks ADD COLUMN active_runs integer NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE tasks ADD COLUMN queue_timeout_sec integer NOT NULL DEFAULT 86400`);
    await q.query(`ALTER TABLE tasks ADD COLUMN queue_expires_at timestamptz`);
    await q.query(`ALTER TABLE tasks ADD COLUMN not_before timestamptz`);
    await q.query(`ALTER TABLE tasks ADD COLUMN module_id varchar(64) REFERENCES wasm_modules (module_id)`);
    await q.query(`ALTER TABLE tasks ADD COLUMN circuit_id varchar(64) REFERENCES circuits (circuit_id)`);
    await q.query(`ALTER TABLE tasks ADD COLUMN args jsonb NOT NULL DEFAULT '[]'::jsonb`);
    await q.query(`ALTER TABLE tasks ADD COLUMN deterministic boolean NOT NULL DEFAULT true`);
    await q.query(`ALTER TABLE tasks ADD COLUMN min_cpu_cores integer`);
    await q.query(`ALTER TABLE tasks ADD COLUMN min_memory_gb double precision`);
    await q.query(`ALTER TABLE tasks ADD COLUMN inputs_hash varchar(64)`);
    await q.query(`ALTER TABLE tasks ADD COLUMN deleted_at timestamptz`);
    await q.query(`ALTER TABLE tasks ADD CONSTRAINT tasks_priority_check CHECK (priority BETWEEN 0 AND 9)`);
    await q.query(
      `ALTER TABLE tasks ADD CONSTRAINT tasks_attempts_check
         CHECK (attempts >= 0 AND max_attempts BETWEEN 1 AND 100 AND active_runs >= 0)`,
    );
    await q.query(
      `ALTER TABLE tasks ADD CONSTRAINT tasks_queue_timeout_check CHECK (queue_timeout_sec BETWEEN 1 AND 2592000)`,
    );

    // Idempotency-Key: one row per (user, key) for 24 h; the body's hash tells a replay from a reused key.
    await q.query(`
      CREATE TABLE task_idempotency_keys (
        user_id uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
        idempotency_key varchar(255) NOT NULL,
        request_hash varchar(64) NOT NULL,
        task_id uuid NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (user_id, idempotency_key)
      )`);
    await q.query(`CREATE INDEX idx_task_idempotency_expires ON task_idempotency_keys (expires_at)`);

    await q.query(`CREATE SEQUENCE task_run_fence_seq AS bigint`);
    await q.query(`DELETE FROM task_runs WHERE node_id IS NULL`);
    await q.query(`ALTER TABLE task_runs DROP CONSTRAINT task_runs_status_check`);
    await q.query(`UPDATE task_runs SET status = 'leased' WHERE status IN ('pending', 'running')`);
    await q.query(`UPDATE task_runs SET status = 'expired' WHERE status = 'timed_out'`);
    await q.query(`ALTER TABLE task_runs ALTER COLUMN status SET DEFAULT 'leased'`);
    await q.query(
      `ALTER TABLE task_runs ADD CONSTRAINT task_runs_status_check CHECK (status IN (${RUN_STATUSES}))`,
    );
    await q.query(`ALTER TABLE task_runs ALTER COLUMN node_id SET NOT NULL`);
    await q.query(`ALTER TABLE task_runs ADD COLUMN node_owner_id uuid REFERENCES users (user_id)`);
    await q.query(
      `ALTER TABLE task_runs ADD COLUMN fence bigint NOT NULL DEFAULT nextval('task_run_fence_seq')`,
    );
    await q.query(`ALTER TABLE task_runs ADD COLUMN lease_expires_at timestamptz`);
    await q.query(`ALTER TABLE task_runs ADD COLUMN attempt integer NOT NULL DEFAULT 1`);
    await q.query(`ALTER TABLE task_runs ADD COLUMN outcome varchar(32)`);
    await q.query(`ALTER TABLE task_runs ADD COLUMN output jsonb`);
    await q.query(`ALTER TABLE task_runs ADD COLUMN stdout text`);
    await q.query(`ALTER TABLE task_runs ADD COLUMN stderr text`);
    await q.query(`ALTER TABLE task_runs ADD COLUMN exit_code integer`);
    // The first accepted submission's hash and answer: an identical repeat gets the same answer.
    await q.query(`ALTER TABLE task_runs ADD COLUMN result_request_hash varchar(64)`);
    await q.query(`ALTER TABLE task_runs ADD COLUMN result_response jsonb`);
    await q.query(
      `ALTER TABLE task_runs ADD CONSTRAINT task_runs_leased_check
         CHECK (status <> 'leased' OR lease_expires_at IS NOT NULL)`,
    );
    // Distinct nodes per task, enforced here and not only by the claim query.
    await q.query(`CREATE UNIQUE INDEX task_runs_task_node_key ON task_runs (task_id, node_id)`);
    await q.query(`CREATE UNIQUE INDEX task_runs_fence_key ON task_runs (fence)`);
    // The lease sweep (expired leases) and a node's lease count.
    await q.query(
      `CREATE INDEX idx_task_runs_leased_expiry ON task_runs (lease_expires_at) WHERE status = 'leased'`,
    );
    await q.query(`CREATE INDEX idx_task_runs_node_leased ON task_runs (node_id) WHERE status = 'leased'`);
    // The claim: open tasks with a free slot, in priority then age order.
    await q.query(
      `CREATE INDEX idx_tasks_claimable ON tasks (priority DESC, created_at, task_id)
         WHERE status IN ('pending', 'running') AND active_runs < min_nodes`,
    );
    // The queue-timeout sweep.
    await q.query(`CREATE INDEX idx_tasks_queue_expiry ON tasks (queue_expires_at) WHERE status = 'pending'`);
    await q.query(
      `CREATE INDEX idx_tasks_creator_live ON tasks (creator_id, created_at DESC, task_id)
         WHERE deleted_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_tasks_creator_live`);
    await q.query(`DROP INDEX idx_tasks_queue_expiry`);
    await q.query(`DROP INDEX idx_tasks_claimable`);
    await q.query(`DROP INDEX idx_task_runs_node_leased`);
    await q.query(`DROP INDEX idx_task_runs_leased_expiry`);
    await q.query(`DROP INDEX task_runs_fence_key`);
    await q.query(`DROP INDEX task_runs_task_node_key`);
    await q.query(`ALTER TABLE task_runs DROP CONSTRAINT task_runs_leased_check`);
    for (const column of [
      'result_response',
      'result_request_hash',
      'exit_code',
      'stderr',
      'stdout',
      'output',
      'outcome',
      'attempt',
      'lease_expires_at',
      'fence',
      'node_owner_id',
    ]) {
      await q.query(`ALTER TABLE task_runs DROP COLUMN ${column}`);
    }
    await q.query(`ALTER TABLE task_runs ALTER COLUMN node_id DROP NOT NULL`);
    await q.query(`ALTER TABLE task_runs DROP CONSTRAINT task_runs_status_check`);
    await q.query(`UPDATE task_runs SET status = 'running' WHERE status = 'leased'`);
    await q.query(`UPDATE task_runs SET status = 'timed_out' WHERE status = 'expired'`);
    await q.query(`UPDATE task_runs SET status = 'failed' WHERE status = 'rejected'`);
    await q.query(`ALTER TABLE task_runs ALTER COLUMN status SET DEFAULT 'pending'`);
    await q.query(
      `ALTER TABLE task_runs ADD CONSTRAINT task_runs_status_check
         CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled'))`,
    );
    await q.query(`DROP SEQUENCE task_run_fence_seq`);

    await q.query(`DROP TABLE task_idempotency_keys`);

    await q.query(`ALTER TABLE tasks DROP CONSTRAINT tasks_queue_timeout_check`);
    await q.query(`ALTER TABLE tasks DROP CONSTRAINT tasks_attempts_check`);
    await q.query(`ALTER TABLE tasks DROP CONSTRAINT tasks_priority_check`);
    for (const column of [
      'deleted_at',
      'inputs_hash',
      'min_memory_gb',
      'min_cpu_cores',
      'deterministic',
      'args',
      'circuit_id',
      'module_id',
      'not_before',
      'queue_expires_at',
      'queue_timeout_sec',
      'active_runs',
      'max_attempts',
      'attempts',
      'priority',
      'status_reason',
    ]) {
      await q.query(`ALTER TABLE tasks DROP COLUMN ${column}`);
    }
  }
}
