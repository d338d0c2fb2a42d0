import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Who holds which module (issue 13, row 4): modules are shared by hash, so one stored module can belong to
 * several users. A user's storage quota is charged for the modules they own (and the ones their live tasks
 * run); DELETE /modules/:id removes the caller's ownership, and the bytes go once no owner and no live task is
 * left. Existing uploads become their uploader's.
 */
export class ModuleOwners20261201190000 implements MigrationInterface {
  name = 'ModuleOwners20261201190000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE module_owners (
        user_id uuid NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
        module_id varchar(64) NOT NULL REFERENCES wasm_modules (module_id) ON DELETE CASCADE,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, module_id)
      )`);
    // Whether anyone still owns a module (the delete's check), and a user's list newest first.
    await q.query(`CREATE INDEX idx_module_owners_module ON module_owners (module_id)`);
    await q.query(
      `CREATE INDEX idx_module_owners_user_created ON module_owners (user_id, created_at DESC, module_id)`,
    );
    // Whether a task still runs a module (kept while one does), and the modules a user's tasks run (quota).
    await q.query(`CREATE INDEX idx_tasks_module ON tasks (module_id) WHERE module_id IS NOT NULL`);
    await q.query(`
      INSERT INTO module_owners (user_id, module_id, created_at)
      SELECT uploaded_by, module_id, created_at FROM wasm_modules WHERE uploaded_by IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX idx_tasks_module`);
    await q.query(`DROP TABLE module_owners`);
  }
}
