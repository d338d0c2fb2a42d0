import { Injectable } from '@nestjs/common';
import { DatabaseSession } from '../database/transaction-runner';
import { ExportEntry, ImportEntry } from './wasm-binary';

export interface WasmModuleRecord {
  moduleId: string;
  sizeBytes: number;
  imports: ImportEntry[];
  exports: ExportEntry[];
  uploadedBy: string | null;
  createdAt: Date;
}

export type NewWasmModule = Omit<WasmModuleRecord, 'createdAt'>;

/** Persistence port of the module store (the abstract class is the DI token). */
export abstract class WasmModulesRepository {
  /** Inserts the row unless one exists; `created` is false for a duplicate (the existing row is returned). */
  abstract insertIfAbsent(module: NewWasmModule): Promise<{ record: WasmModuleRecord; created: boolean }>;
  abstract findById(moduleId: string): Promise<WasmModuleRecord | null>;
  /**
   * Makes the module the system's (built in, no uploader): what built-in programs are, whoever uploaded the bytes
   * first. Never charged to anyone's quota, never collected.
   */
  abstract markBuiltIn(moduleId: string): Promise<void>;
  /**
   * Until the transaction ends: the insert of the module's row and the sweep of bytes no row names take turns
   * on its bytes (ModuleStoreService).
   */
  abstract lockBytes(moduleId: string): Promise<void>;
  /** Those of `moduleIds` that no row names. */
  abstract unnamed(moduleIds: string[]): Promise<string[]>;
}

interface Row {
  module_id: string;
  size_bytes: number;
  imports: ImportEntry[];
  exports: ExportEntry[];
  uploaded_by: string | null;
  created_at: Date;
}

const COLUMNS = 'module_id, size_bytes, imports, exports, uploaded_by, created_at';

function toRecord(row: Row): WasmModuleRecord {
  return {
    moduleId: row.module_id,
    sizeBytes: row.size_bytes,
    imports: row.imports,
    exports: row.exports,
    uploadedBy: row.uploaded_by,
    createdAt: row.created_at,
  };
}

@Injectable()
export class SqlWasmModulesRepository extends WasmModulesRepository {
  constructor(private readonly db: DatabaseSession) {
    super();
  }

  async insertIfAbsent(module: NewWasmModule): Promise<{ record: WasmModuleRecord; created: boolean }> {
    // ON CONFLICT DO NOTHING makes two simultaneous uploads of the same bytes one row, without a race.
    const inserted = await this.db.query<Row>(
      `INSERT INTO wasm_modules (module_id, size_bytes, imports, exports, uploaded_by)
       VALUES ($1, $2, $3::jsonb, $4::jsonb, $5)
       ON CONFLICT (module_id) DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        module.moduleId,
        module.sizeBytes,
        JSON.stringify(module.imports),
        JSON.stringify(module.exports),
        module.uploadedBy,
      ],
    );
    if (inserted.length > 0) return { record: toRecord(inserted[0]), created: true };
    const existing = await this.findById(module.moduleId);
    if (!existing) throw new Error('wasm module row vanished between insert and select');
    return { record: existing, created: false };
  }

  async findById(moduleId: string): Promise<WasmModuleRecord | null> {
    const rows = await this.db.query<Row>(`SELECT ${COLUMNS} FROM wasm_modules WHERE module_id = $1`, [
      moduleId,
    ]);
    return rows.length > 0 ? toRecord(rows[0]) : null;
  }

  async lockBytes(moduleId: string): Promise<void> {
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtextextended('vcp.module_bytes:' || $1, 0))`, [
      moduleId,
    ]);
  }

  async unnamed(moduleIds: string[]): Promise<string[]> {
    const rows = await this.db.query<{ id: string }>(
      `SELECT id FROM unnest($1::text[]) AS id
        WHERE NOT EXISTS (SELECT 1 FROM wasm_modules WHERE module_id = id)`,
      [moduleIds],
    );
    return rows.map((row) => row.id);
  }

  async markBuiltIn(moduleId: string): Promise<void> {
    await this.db.query(
      `UPDATE wasm_modules SET uploaded_by = NULL, built_in = true
        WHERE module_id = $1 AND (NOT built_in OR uploaded_by IS NOT NULL)`,
      [moduleId],
    );
  }
}
