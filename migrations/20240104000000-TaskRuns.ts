import { MigrationInterface, QueryRunner } from 'typeorm';

/** One row per execution of a task on a node: the evidence that verification compares. */
export class TaskRuns20240104000000 implements MigrationInterface {
  name = 'TaskRuns20240104000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE task_runs (
        run_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        task_id uuid NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
        node_id varchar(64) REFERENCES nodes (node_id) ON DELETE SET NULL,
        status varchar(32) NOT NULL DEFAULT 'pending',
        wasm_module_hash varchar(64),
        inputs_hash varchar(64),
        output_hash varchar(64),
        execution_time_ms bigint,
        gas_used bigint,
        error_message text,
        started_at timestamptz,
        completed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT task_runs_status_check
          CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled')),
        CONSTRAINT task_runs_execution_time_check CHECK (execution_time_ms IS NULL OR execution_time_ms >= 0),
        CONSTRAINT task_runs_gas_used_check CHECK (gas_used IS NULL OR gas_used >= 0)
      )`);
    await q.query(`CREATE INDEX idx_task_runs_task_id ON task_runs (task_id, created_at)`);
    await q.query(`CREATE INDEX idx_task_runs_node_id ON task_runs (node_id)`);
    await q.query(`CREATE INDEX idx_task_runs_status ON task_runs (status)`);
    await q.query(`CREATE INDEX idx_task_runs_created_at ON task_runs (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE task_runs`);
  }
}
