import { Injectable, Logger } from '@nestjs/common';
import { AuditAction } from '../audit/audit-actions';
import { AuditService } from '../audit/audit.service';
import type { Principal, RequestMeta } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode, ErrorReason } from '../common/errors/error-code';
import { pageRequest, toPage } from '../common/pagination/page';
import { SHA256_HEX_PATTERN, isSha256Hex } from '../common/validation/sha256';
import { TransactionRunner } from '../database/transaction-runner';
import { ContentStore } from '../storage/content-store';
import { hashContent } from '../storage/hashed-content';
import { OwnedModulePageDto, toOwnedModuleDto } from './dto/module.dto';
import { ModuleOwnersRepository, ModuleUsage } from './module-owners.repository';
import { ModuleStoreService, StoredModule } from './module-store.service';
import { WasmConfig } from './wasm.config';
import { WasmModulesRepository } from './wasm-modules.repository';

const notFound = () => AppException.notFound('Module not found');

/**
 * Modules as users hold them: uploads charged to a per-user storage quota, the caller's list, and deletion.
 *
 * Charging: a user is charged the full size of every distinct module they own or that one of their live tasks
 * runs. Bytes several users hold are charged to each of them (one user's delete must never push another over
 * their quota), and taking a module one already holds costs nothing. The bytes stay stored while anyone owns
 * the module or a live task runs it; after that they are deleted.
 */
@Injectable()
export class ModuleOwnershipService {
  private readonly logger = new Logger('ModuleOwnership');

  constructor(
    private readonly config: WasmConfig,
    private readonly store: ModuleStoreService,
    private readonly content: ContentStore,
    private readonly owners: ModuleOwnersRepository,
    private readonly modules: WasmModulesRepository,
    private readonly tx: TransactionRunner,
    private readonly audit: AuditService,
  ) {}

  /**
   * Stores a module as the user's, within their quota. The quota is checked before the bytes are written
   * (so a refused upload costs no disk) and again, under the user's lock, when ownership is recorded.
   * Audited `module.uploaded` in that transaction (`via`: an upload, or a task's inline `wasm_module`).
   */
  async upload(
    bytes: Uint8Array,
    principal: Principal,
    meta: RequestMeta,
    via: 'upload' | 'task',
  ): Promise<StoredModule> {
    const { userId } = principal;
    // Hashed once: the store and its content store are given the digest (HashedContent says why that is safe).
    const content = await hashContent(bytes);
    const moduleId = content.sha256;
    await this.assertRoom(userId, moduleId, bytes.byteLength);
    const stored = await this.store.store(content, userId);
    try {
      await this.tx.run(async () => {
        await this.owners.lockUser(userId);
        await this.assertRoom(userId, moduleId, bytes.byteLength);
        // Again, in this transaction: a collect that ran since the store's insert may have removed the row.
        const { moduleId: id, sizeBytes, imports, exports, uploadedBy } = stored.record;
        await this.modules.insertIfAbsent({ moduleId: id, sizeBytes, imports, exports, uploadedBy });
        const newlyOwned = await this.owners.add(userId, moduleId);
        // Even a repeat is a row: "who put this module in their list, when" must not depend on who was first.
        await this.audit.record(
          {
            action: AuditAction.ModuleUploaded,
            status: 'success',
            userId,
            resourceType: 'module',
            resourceId: moduleId,
            metadata: { size_bytes: sizeBytes, stored: stored.created, newly_owned: newlyOwned, via },
          },
          meta,
        );
      });
    } catch (error) {
      // Refused after the write: bytes nobody holds must not stay on disk.
      if (stored.created) await this.collect(moduleId);
      throw error;
    }
    // A delete of the same module that committed between our write and our ownership removed the file:
    // store it again (the row and our ownership now keep it). Presence is enough: `put` verified the bytes.
    if (!(await this.content.exists(moduleId))) await this.content.put(content);
    return stored;
  }

  /**
   * For a task that will run `moduleId` (stored already): refused when the module is new to the user's usage
   * and does not fit. Checked before the task is inserted; true when the module was new to the usage (the
   * insert then goes through `insertWithinQuota`).
   */
  async assertCanRun(userId: string, moduleId: string, sizeBytes: number): Promise<boolean> {
    return this.assertRoom(userId, moduleId, sizeBytes);
  }

  /**
   * Runs `insert` (of a task running `moduleId`, new to the user's usage) with the room checked again under
   * the user's lock, in the insert's transaction: concurrent tasks must not all fit in the last free bytes,
   * as concurrent uploads cannot.
   */
  insertWithinQuota<T>(
    userId: string,
    moduleId: string,
    sizeBytes: number,
    insert: () => Promise<T>,
  ): Promise<T> {
    return this.tx.run(async () => {
      await this.owners.lockUser(userId);
      await this.assertRoom(userId, moduleId, sizeBytes);
      return insert();
    });
  }

  usage(userId: string): Promise<ModuleUsage> {
    return this.owners.usage(userId);
  }

  /** One page of the caller's modules, newest ownership first. */
  async list(userId: string, query: { limit?: number; cursor?: string }): Promise<OwnedModulePageDto> {
    const request = pageRequest(query, SHA256_HEX_PATTERN);
    const rows = await this.owners.list(userId, request.after, request.fetch);
    return toPage(
      rows,
      request,
      (row) => ({ t: row.ownedSince.toISOString(), id: row.moduleId }),
      toOwnedModuleDto,
    );
  }

  /**
   * Takes the module out of the caller's modules (an admin's delete: out of everyone's). Someone else's
   * module is the same 404 as an unknown one. The bytes go at once unless another owner or a live task
   * still holds them.
   */
  async remove(principal: Principal, moduleId: string, meta: RequestMeta): Promise<void> {
    if (!isSha256Hex(moduleId)) throw notFound();
    const asAdmin = principal.role === 'admin';
    await this.tx.run(async () => {
      // The server runs its programs from these bytes: an admin's delete (of everyone's ownership) is refused.
      // A user who uploaded the same bytes may still take them out of their own list; the bytes stay.
      if (asAdmin && (await this.owners.isBuiltIn(moduleId))) {
        throw new AppException(ErrorCode.Forbidden, 'Built-in programs cannot be deleted');
      }
      const removed = await this.owners.remove(moduleId, asAdmin ? null : principal.userId);
      // An admin may delete a module nobody owns any more (kept by a task): it must exist, though.
      if (removed === 0 && !(asAdmin && (await this.store.exists(moduleId)))) throw notFound();
      const bytesDeleted = await this.deleteIfUnheld(moduleId);
      await this.audit.record(
        {
          action: 'module.deleted',
          status: 'success',
          userId: principal.userId,
          resourceType: 'module',
          resourceId: moduleId,
          metadata: { owners_removed: removed, bytes_deleted: bytesDeleted, as_admin: asAdmin },
        },
        meta,
      );
    });
  }

  /**
   * Deletes a module nobody holds any more (after a task that ran it was deleted, or a refused upload);
   * nothing happens while an owner or a live task holds it. True when it was deleted.
   */
  async collect(moduleId: string): Promise<boolean> {
    try {
      return await this.tx.run(() => this.deleteIfUnheld(moduleId));
    } catch (error) {
      // A task or an upload took the module meanwhile (foreign key): it stays, which is correct.
      this.logger.warn({ moduleId, err: error }, 'module kept: it was taken while being collected');
      return false;
    }
  }

  /** Inside a transaction: the row goes, then the file (before commit, see ModuleOwnersRepository). */
  private async deleteIfUnheld(moduleId: string): Promise<boolean> {
    if (!(await this.owners.deleteIfUnheld(moduleId))) return false;
    await this.content.delete(moduleId);
    return true;
  }

  /** Refuses a module new to the user's usage that does not fit; true when it was new (and fits). */
  private async assertRoom(userId: string, moduleId: string, sizeBytes: number): Promise<boolean> {
    if (await this.owners.isCharged(userId, moduleId)) return false;
    const used = await this.owners.usage(userId);
    const { moduleQuotaBytes, moduleQuotaCount } = this.config;
    if (used.bytes + sizeBytes <= moduleQuotaBytes && used.modules + 1 <= moduleQuotaCount) return true;
    throw new AppException(
      ErrorCode.PayloadTooLarge,
      'Module storage quota exceeded: delete modules (or tasks that run them) you no longer need',
      {
        reason: ErrorReason.StorageQuotaExceeded,
        extra: {
          quota: {
            used_bytes: used.bytes,
            used_modules: used.modules,
            max_bytes: moduleQuotaBytes,
            max_modules: moduleQuotaCount,
          },
        },
      },
    );
  }
}
