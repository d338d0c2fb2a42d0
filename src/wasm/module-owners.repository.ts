import { Injectable } from '@nestjs/common';
import { cursorTime, KeysetCursor, pageTime } from '../common/pagination/cursor';
import { DatabaseSession } from '../database/transaction-runner';
import type { ExportEntry, ImportEntry } from './wasm-binary';
import type { WasmModuleRecord } from './wasm-modules.repository';

/** What one user is charged for: distinct modules they own or that one of their live tasks runs. */
export interface ModuleUsage {
  bytes: number;
  modules: number;
}

export interface OwnedModule extends WasmModuleRecord {
  /** When this user took the module (their upload), not when the bytes were first stored. */
  ownedSince: Date;
}

/**
 * Ownership of shared modules (`module_owners`), the quota's arithmetic, and the removal of modules nobody
 * holds. A module is *held* while a user owns it or a live (not deleted) task runs it.
 */
@Injectable()
export class ModuleOwnersRepository {
  constructor(private readonly db: DatabaseSession) {}

  /**
   * Serialises quota decisions of one user until the transaction ends, so two uploads cannot both fit in the
   * last free bytes. (On the embedded database transactions already take turns; there it is a no-op.)
   */
  async lockUser(userId: string): Promise<void> {
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtextextended('vcp.module_quota:' || $1, 0))`, [
      userId,
    ]);
  }

  async usage(userId: string): Promise<ModuleUsage> {
    const rows = await this.db.query<{ bytes: string; modules: string }>(
      `SELECT coalesce(sum(m.size_bytes), 0) AS bytes, count(*) AS modules
         FROM wasm_modules m
        WHERE ${HELD_BY_USER}`,
      [userId],
    );
    return { bytes: Number(rows[0].bytes), modules: Number(rows[0].modules) };
  }

  /** Whether `moduleId` is already in `userId`'s usage (then taking it again costs nothing). */
  async isCharged(userId: string, moduleId: string): Promise<boolean> {
    const rows = await this.db.query(
      `SELECT 1 FROM wasm_modules m WHERE m.module_id = $2 AND ${HELD_BY_USER}`,
      [userId, moduleId],
    );
    return rows.length > 0;
  }

  /** Makes the module the user's; false when it already was. The module row must exist. */
  async add(userId: string, moduleId: string): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO module_owners (user_id, module_id) VALUES ($1, $2)
       ON CONFLICT (user_id, module_id) DO NOTHING RETURNING 1`,
      [userId, moduleId],
    );
    return rows.length > 0;
  }

  async owns(userId: string, moduleId: string): Promise<boolean> {
    const rows = await this.db.query(`SELECT 1 FROM module_owners WHERE user_id = $1 AND module_id = $2`, [
      userId,
      moduleId,
    ]);
    return rows.length > 0;
  }

  /** Removes one user's ownership, or everyone's (`userId` null, an admin's delete); how many rows went. */
  async remove(moduleId: string, userId: string | null): Promise<number> {
    const rows = await this.db.query(
      `DELETE FROM module_owners WHERE module_id = $1 AND ($2::uuid IS NULL OR user_id = $2::uuid) RETURNING 1`,
      [moduleId, userId],
    );
    return rows.length;
  }

  /** The user's modules, newest ownership first, keyset-paged on (owned since, module_id) at millisecond precision. */
  async list(userId: string, after: KeysetCursor | null, fetch: number): Promise<OwnedModule[]> {
    const rows = await this.db.query<{
      module_id: string;
      size_bytes: number;
      imports: ImportEntry[];
      exports: ExportEntry[];
      uploaded_by: string | null;
      created_at: Date;
      owned_since: Date;
    }>(
      `SELECT m.module_id, m.size_bytes, m.imports, m.exports, m.uploaded_by, m.created_at,
              o.created_at AS owned_since
         FROM module_owners o JOIN wasm_modules m ON m.module_id = o.module_id
        WHERE o.user_id = $1
          AND ($2::timestamptz IS NULL OR (${pageTime('o.created_at')}, o.module_id) < (${cursorTime('$2')}, $3::varchar))
        ORDER BY ${pageTime('o.created_at')} DESC, o.module_id DESC
        LIMIT $4`,
      [userId, after?.t ?? null, after?.id ?? null, fetch],
    );
    return rows.map((row) => ({
      moduleId: row.module_id,
      sizeBytes: row.size_bytes,
      imports: row.imports,
      exports: row.exports,
      uploadedBy: row.uploaded_by,
      createdAt: row.created_at,
      ownedSince: row.owned_since,
    }));
  }

  /** A built-in program's module (see the BuiltInModules migration); false for an unknown one. */
  async isBuiltIn(moduleId: string): Promise<boolean> {
    const rows = await this.db.query(`SELECT 1 FROM wasm_modules WHERE module_id = $1 AND built_in`, [
      moduleId,
    ]);
    return rows.length > 0;
  }

  /**
   * Modules nobody holds (no owner, no live task, not built-in) whose row is older than `olderThanSecs`: what
   * a delete left when the process ended between its commit and its collect (or a user's account went with
   * their ownership). Oldest first, at most `limit`.
   */
  async unheld(olderThanSecs: number, limit: number): Promise<string[]> {
    const rows = await this.db.query<{ module_id: string }>(
      `SELECT m.module_id FROM wasm_modules m
        WHERE NOT m.built_in AND m.created_at < now() - $1 * interval '1 second'
          AND NOT EXISTS (SELECT 1 FROM module_owners o WHERE o.module_id = m.module_id)
          AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.module_id = m.module_id AND t.deleted_at IS NULL)
        ORDER BY m.created_at LIMIT $2`,
      [olderThanSecs, limit],
    );
    return rows.map((row) => row.module_id);
  }

  /**
   * Deletes the module's row if nothing holds it (no owner, no live task); true when it did, and the caller
   * then deletes the bytes before the transaction commits. The row is locked first, so an upload of the same
   * bytes waits for this transaction and then stores them again. Deleted tasks lose their reference (they are
   * invisible and never run again); a task inserted meanwhile makes the delete fail on the foreign key
   * instead of losing its module.
   */
  async deleteIfUnheld(moduleId: string): Promise<boolean> {
    const locked = await this.db.query<{ built_in: boolean }>(
      `SELECT built_in FROM wasm_modules WHERE module_id = $1 FOR UPDATE`,
      [moduleId],
    );
    // A built-in program is held by the system for as long as the server ships it.
    if (locked.length === 0 || locked[0].built_in) return false;
    const held = await this.db.query(
      `SELECT 1 WHERE EXISTS (SELECT 1 FROM module_owners WHERE module_id = $1)
                   OR EXISTS (SELECT 1 FROM tasks WHERE module_id = $1 AND deleted_at IS NULL)`,
      [moduleId],
    );
    if (held.length > 0) return false;
    await this.db.query(`UPDATE tasks SET module_id = NULL WHERE module_id = $1 AND deleted_at IS NOT NULL`, [
      moduleId,
    ]);
    const deleted = await this.db.query(`DELETE FROM wasm_modules WHERE module_id = $1 RETURNING 1`, [
      moduleId,
    ]);
    return deleted.length > 0;
  }
}

/** `m` is held by user `$1`: owned, or run by one of their live tasks. */
// Built-in programs are the system's: nobody is charged for them.
const HELD_BY_USER = `NOT m.built_in AND (EXISTS (SELECT 1 FROM module_owners o WHERE o.module_id = m.module_id AND o.user_id = $1)
   OR EXISTS (SELECT 1 FROM tasks t WHERE t.module_id = m.module_id AND t.creator_id = $1 AND t.deleted_at IS NULL))`;
