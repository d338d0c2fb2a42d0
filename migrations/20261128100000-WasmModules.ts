import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The metadata of the content-addressed WebAssembly module store. The bytes live on disk at
 * `<first allowed root>/<module_id>.wasm`; the id is their SHA-256, so a row can never describe other bytes
 * than the file the engine verifies before running it.
 */
export class WasmModules20261128100000 implements MigrationInterface {
  name = 'WasmModules20261128100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE wasm_modules (
        module_id varchar(64) PRIMARY KEY,
        size_bytes integer NOT NULL,
        imports jsonb NOT NULL DEFAULT '[]'::jsonb,
        exports jsonb NOT NULL DEFAULT '[]'::jsonb,
        uploaded_by uuid REFERENCES users (user_id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT wasm_modules_module_id_format_check CHECK (module_id ~ '^[0-9a-f]{64}$'),
        CONSTRAINT wasm_modules_size_check CHECK (size_bytes > 0),
        CONSTRAINT wasm_modules_imports_array_check CHECK (jsonb_typeof(imports) = 'array'),
        CONSTRAINT wasm_modules_exports_array_check CHECK (jsonb_typeof(exports) = 'array')
      )`);
    await q.query(`CREATE INDEX idx_wasm_modules_uploaded_by ON wasm_modules (uploaded_by, created_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE wasm_modules`);
  }
}
