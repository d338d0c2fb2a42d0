import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Circuits can be taken out of service. One that tasks or proofs reference cannot be deleted (their foreign
 * keys, and the evidence they are), so it is retired: `retired_at` is set and new work naming it is refused,
 * while it stays readable. The index serves the "does any task name this circuit?" check of a delete, and the
 * foreign key's own check when a circuit row goes, which would otherwise scan every task.
 */
export class CircuitRetirement20261202160000 implements MigrationInterface {
  name = 'CircuitRetirement20261202160000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE circuits ADD COLUMN retired_at timestamptz`);
    await q.query(`CREATE INDEX idx_tasks_circuit_id ON tasks (circuit_id) WHERE circuit_id IS NOT NULL`);
  }

  /** Retirements are forgotten: the code before this migration knows no retired circuit. */
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_tasks_circuit_id`);
    await q.query(`ALTER TABLE circuits DROP COLUMN retired_at`);
  }
}
