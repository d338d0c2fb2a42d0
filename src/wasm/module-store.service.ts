import { Injectable, Logger } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-code';
import { AppConfig } from '../config/app-config';
import { ModuleIntegrityError, ModulePaths, PathRejectedError } from './module-paths';
import { capMemory, ImportEntry, InvalidModuleError, ModuleSummary, summarize } from './wasm-binary';
import { WasmModuleRecord, WasmModulesRepository } from './wasm-modules.repository';

export const MODULE_ID_PATTERN = /^[0-9a-f]{64}$/;
const MAX_SUMMARY_ENTRIES = 1000;
const WASI_MODULE = 'wasi_snapshot_preview1';

/** Accepted at upload: WASI preview 1 for both runtimes, and WASIX (wasmer only, checked again at run). */
export function isAllowedImportModule(module: string): boolean {
  return module === WASI_MODULE || /^wasix_[A-Za-z0-9_]+$/.test(module);
}

/** An import named for a message: escaped and bounded, since the names come from an untrusted binary. */
export function describeImport(entry: ImportEntry): string {
  return JSON.stringify(`${entry.module}.${entry.name}`.slice(0, 128));
}

export interface StoredModule {
  record: WasmModuleRecord;
  created: boolean;
}

/**
 * The content-addressed module store: `<first allowed root>/<sha256>.wasm` plus a `wasm_modules` row. The
 * id is the SHA-256 of the bytes, so identical uploads are one module and a stored file can always be
 * checked against its name.
 */
@Injectable()
export class ModuleStoreService {
  private readonly logger = new Logger(ModuleStoreService.name);

  constructor(
    private readonly config: AppConfig,
    private readonly paths: ModulePaths,
    private readonly repository: WasmModulesRepository,
  ) {}

  /** Validates, hashes and stores a module; `created` is false when the same bytes were stored before. */
  async store(bytes: Uint8Array, uploadedBy: string | null): Promise<StoredModule> {
    if (bytes.length > this.config.wasm.maxModuleBytes) {
      throw new AppException(ErrorCode.PayloadTooLarge, 'Module is larger than WASM_MAX_MODULE_BYTES');
    }
    const summary = this.validate(bytes);
    const moduleId = createHash('sha256').update(bytes).digest('hex');
    // File first, row second: a row never points at bytes that are not on disk.
    await this.writeFile(moduleId, bytes);
    return this.repository.insertIfAbsent({
      moduleId,
      sizeBytes: bytes.length,
      imports: summary.imports,
      exports: summary.exports,
      uploadedBy,
    });
  }

  async metadata(moduleId: string): Promise<WasmModuleRecord> {
    // A malformed id is "not found" too: it can never name a module, and it never reaches the file system.
    if (!MODULE_ID_PATTERN.test(moduleId)) throw AppException.notFound('Module not found');
    const record = await this.repository.findById(moduleId);
    if (!record) throw AppException.notFound('Module not found');
    return record;
  }

  /** The verified bytes of a stored module (row must exist; file read once and checked against the id). */
  async read(moduleId: string): Promise<Buffer> {
    await this.metadata(moduleId);
    return this.readFile(moduleId);
  }

  /** Looks for `<id>.wasm` in each root in order; the first one found must verify. */
  async readFile(moduleId: string): Promise<Buffer> {
    if (!MODULE_ID_PATTERN.test(moduleId)) throw AppException.notFound('Module not found');
    for (const root of this.paths.roots) {
      try {
        return await this.paths.readVerified(
          join(root, `${moduleId}.wasm`),
          moduleId,
          this.config.wasm.maxModuleBytes,
        );
      } catch (error) {
        if (error instanceof PathRejectedError && error.reason === 'missing') continue;
        if (error instanceof ModuleIntegrityError) {
          this.logger.error({ module_id: moduleId, root }, 'stored module file does not hash to its id');
        }
        throw error;
      }
    }
    throw new PathRejectedError('missing');
  }

  /** The checks every stored module passes; failures are 422 with a reason safe to show. */
  validate(bytes: Uint8Array): ModuleSummary {
    const invalid = (message: string, field = 'wasm_module') =>
      AppException.validation([{ field, message }], message);
    // WebAssembly.validate is V8's own full validation: our parser below then only reads well-formed input.
    if (bytes.length === 0 || !WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>))
      throw invalid('is not a valid WebAssembly module');
    let summary: ModuleSummary;
    try {
      summary = summarize(bytes);
      // A cap of 4 GiB checks only what can never run (shared or 64-bit memories), not the configured cap.
      capMemory(bytes, 4 * 1024 * 1024 * 1024);
    } catch (error) {
      if (error instanceof InvalidModuleError) throw invalid(error.reason);
      throw error;
    }
    const offending = summary.imports.find((entry) => !isAllowedImportModule(entry.module));
    if (offending) {
      throw invalid(`import ${describeImport(offending)} is not allowed: only WASI (or WASIX) imports are`);
    }
    if (!summary.exports.some((e) => e.name === '_start' && e.kind === 'function')) {
      throw invalid('is not a WASI command: it does not export a _start function');
    }
    if (summary.imports.length > MAX_SUMMARY_ENTRIES || summary.exports.length > MAX_SUMMARY_ENTRIES) {
      throw invalid(`has more than ${MAX_SUMMARY_ENTRIES} imports or exports`);
    }
    return summary;
  }

  /**
   * Atomic and idempotent: an existing file that verifies is kept; otherwise the bytes go to a fresh
   * temporary name (O_EXCL, so a planted file or symlink is never followed), are fsynced, and renamed over
   * the final name, so readers see the old file or the complete new one, never a partial write.
   */
  private async writeFile(moduleId: string, bytes: Uint8Array): Promise<void> {
    try {
      await this.readFile(moduleId);
      return;
    } catch (error) {
      if (!(error instanceof PathRejectedError || error instanceof ModuleIntegrityError)) throw error;
    }
    const root = this.paths.writeRoot;
    const temporary = join(root, `.${moduleId}.${randomBytes(8).toString('hex')}.tmp`);
    const handle = await open(temporary, 'wx', 0o600);
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } catch (error) {
      await handle.close();
      await unlink(temporary);
      throw error;
    }
    await handle.close();
    await rename(temporary, join(root, `${moduleId}.wasm`));
  }
}
