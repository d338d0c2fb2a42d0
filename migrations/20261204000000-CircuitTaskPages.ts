import { MigrationInterface, QueryRunner } from 'typeorm';

/** Must match pageTime() in src/common/pagination/cursor.ts, or the planner cannot use the index for the order. */
const pageTime = (column: string) => `date_trunc('milliseconds', ${column} AT TIME ZONE 'UTC')`;

/**
 * `GET /tasks?circuit_id=` pages a circuit's tasks newest first. On idx_tasks_circuit_id (circuit_id alone) each
 * page read and sorted every task of the circuit; this index holds the page's sort key after the circuit, so a
 * page reads its own rows. It still leads with circuit_id, so it also serves what the old one did: a circuit
 * delete's "does any task name it?" check and the foreign key's check when a circuit row goes.
 */
export class CircuitTaskPages20261204000000 implements MigrationInterface {
  name = 'CircuitTaskPages20261204000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE INDEX idx_tasks_circuit_page ON tasks (circuit_id, (${pageTime('created_at')}) DESC, task_id DESC)
        WHERE circuit_id IS NOT NULL`,
    );
    await q.query(`DROP INDEX idx_tasks_circuit_id`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX idx_tasks_circuit_id ON tasks (circuit_id) WHERE circuit_id IS NOT NULL`);
    await q.query(`DROP INDEX idx_tasks_circuit_page`);
  }
}
