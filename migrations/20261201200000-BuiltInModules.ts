import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Built-in program modules (the computation programs) are the system's: they count toward nobody's storage
 * quota and are never collected when the last task that ran them is deleted (`uploaded_by IS NULL` alone does
 * not say that: an uploader's account deletion also sets it).
 */
export class BuiltInModules20261201200000 implements MigrationInterface {
  name = 'BuiltInModules20261201200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wasm_modules ADD COLUMN built_in boolean NOT NULL DEFAULT false`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wasm_modules DROP COLUMN built_in`);
  }
}
