import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Task events for `GET /tasks/:task_id/events` (issue 16): one row per status change of a task and per state of
 * one of its runs, written by triggers. A trigger fires inside the statement that changes the state, so the
 * event commits (or rolls back) with the change on every path — submission, claim, result, sweeps, cancel,
 * node loss — without each of them having to remember it.
 *
 * Ids come from one identity sequence. A stream resumes with `event_id > Last-Event-ID`, which is only safe if
 * one task's events commit in id order: every event is inserted while its transaction holds the task's row lock
 * (a status change updates that row; a run event locks it first), so a later transaction on the same task
 * waits for the earlier one's commit before it takes an id.
 */
export class TaskEvents20261201210000 implements MigrationInterface {
  name = 'TaskEvents20261201210000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE task_events (
        event_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        task_id uuid NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
        event_type varchar(16) NOT NULL CHECK (event_type IN ('status', 'run')),
        data jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX idx_task_events_task ON task_events (task_id, event_id)`);
    await q.query(`
      CREATE FUNCTION task_status_event() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO task_events (task_id, event_type, data)
        VALUES (NEW.task_id, 'status', jsonb_build_object(
          'task_id', NEW.task_id, 'status', NEW.status, 'status_reason', NEW.status_reason,
          'attempts', NEW.attempts,
          'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE FUNCTION task_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- The task's row lock before the id: one task's events commit in id order (see the migration's note).
        PERFORM 1 FROM tasks WHERE task_id = NEW.task_id FOR UPDATE;
        INSERT INTO task_events (task_id, event_type, data)
        VALUES (NEW.task_id, 'run', jsonb_build_object(
          'task_id', NEW.task_id, 'run_id', NEW.run_id, 'node_id', NEW.node_id, 'status', NEW.status,
          'attempt', NEW.attempt, 'outcome', NEW.outcome,
          'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
        RETURN NULL;
      END $$`);
    await q.query(
      `CREATE TRIGGER tasks_insert_event AFTER INSERT ON tasks
         FOR EACH ROW EXECUTE FUNCTION task_status_event()`,
    );
    // Deferred to commit: a transaction's run events come first, then the status change they caused (run
    // succeeded → task completed), so the terminal status is the stream's last event.
    await q.query(
      `CREATE CONSTRAINT TRIGGER tasks_status_event AFTER UPDATE OF status ON tasks
         DEFERRABLE INITIALLY DEFERRED
         FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION task_status_event()`,
    );
    await q.query(
      `CREATE TRIGGER task_runs_insert_event AFTER INSERT ON task_runs
         FOR EACH ROW EXECUTE FUNCTION task_run_event()`,
    );
    await q.query(
      `CREATE TRIGGER task_runs_status_event AFTER UPDATE OF status ON task_runs
         FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION task_run_event()`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER task_runs_status_event ON task_runs`);
    await q.query(`DROP TRIGGER task_runs_insert_event ON task_runs`);
    await q.query(`DROP TRIGGER tasks_status_event ON tasks`);
    await q.query(`DROP TRIGGER tasks_insert_event ON tasks`);
    await q.query(`DROP FUNCTION task_run_event()`);
    await q.query(`DROP FUNCTION task_status_event()`);
    await q.query(`DROP TABLE task_events`);
  }
}
