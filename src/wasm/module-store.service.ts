import { Injectable } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { isSha256Hex } from '../common/validation/sha256';
import { ErrorCode } from '../common/errors/error-code';
import { TransactionRunner } from '../database/transaction-runner';
import { ContentIntegrityError, ContentStore, ContentUnavailableError } from '../storage/content-store';
import { FsContentStoreOptions } from '../storage/fs-content-store';
import { bytesOf, HashedContent, hashedContent } from '../storage/hashed-content';
import { collectUnnamedBytes } from '../storage/unnamed-bytes';
import { WasmConfig } from './wasm.config';
import type { ModuleCheck } from './module-check';
import { ModuleChecker } from './module-checker';
import { WASIX_SPAWNS } from './runtime';
import { ImportEntry, ModuleSummary } from './wasm-binary';
import { NewWasmModule, WasmModuleRecord, WasmModulesRepository } from './wasm-modules.repository';

const MAX_SUMMARY_ENTRIES = 1000;
const WASI_MODULE = 'wasi_snapshot_preview1';

/**
 * Accepted at upload: WASI preview 1 for both runtimes, and WASIX (wasmer only, checked again at run) but for
 * its functions that start another module or thread, which no runtime runs (WASIX_SPAWNS).
 */
export function isAllowedImport({ module, name }: ImportEntry): boolean {
  return module === WASI_MODULE || (/^wasix_[A-Za-z0-9_]+$/.test(module) && !WASIX_SPAWNS.test(name));
}

/** An import named for a message: escaped and bounded, since the names come from an untrusted binary. */
export function describeImport(entry: ImportEntry): string {
  return JSON.stringify(`${entry.module}.${entry.name}`.slice(0, 128));
}

/**
 * The bytes on disk no longer hash to the module id: tampering or corruption, never run or serve them. A 409
 * with a message the client can act on (uploading the same bytes again rewrites the file); the content store
 * logs each one as an error for the operator, since the filter logs only 5xx.
 */
export class ModuleIntegrityError extends AppException {
  constructor() {
    super(
      ErrorCode.Conflict,
      'Module integrity check failed: the stored bytes no longer match the module id; upload the module again',
    );
    this.name = 'ModuleIntegrityError';
  }
}

/**
 * The module namespace of the content store: `<root>/<sha256>.wasm`, the layout data dirs already hold.
 * Uploads go to the first of WASM_ALLOWED_ROOTS; reads look in each root in order.
 */
export function moduleContentOptions(config: WasmConfig): FsContentStoreOptions {
  if (config.allowedRoots.length === 0) {
    throw new Error('WASM_ALLOWED_ROOTS: at least one directory is required');
  }
  return {
    name: 'wasm-modules',
    roots: config.allowedRoots,
    layout: { shard: false, suffix: '.wasm' },
    maxBytes: config.maxModuleBytes,
  };
}

/** Parses a module: on the check thread, or (built-in programs) on the event loop. */
type CheckModule = (bytes: Uint8Array) => Promise<ModuleCheck> | ModuleCheck;

export interface StoredModule {
  record: WasmModuleRecord;
  created: boolean;
}

/**
 * Modules: bytes in the content store plus a `wasm_modules` row. The id is the SHA-256 of the bytes, so
 * identical uploads are one module and a stored file can always be checked against its name.
 */
@Injectable()
export class ModuleStoreService {
  constructor(
    private readonly config: WasmConfig,
    private readonly content: ContentStore,
    private readonly repository: WasmModulesRepository,
    readonly checker: ModuleChecker,
    private readonly tx: TransactionRunner,
  ) {}

  /**
   * Hashes, validates and stores a module; `created` is false when the same bytes were stored before. Known
   * bytes are recognised by their hash before anything parses them: they passed the same checks when first
   * stored, and re-uploading them must cost no more than hashing (the hash runs on libuv's thread pool). The
   * bytes are hashed once, here or by the caller (HashedContent), and the store is given that hash.
   */
  async store(
    content: Uint8Array | HashedContent,
    uploadedBy: string | null,
    check: CheckModule = (bytes) => this.checker.check(bytes),
  ): Promise<StoredModule> {
    const bytes = bytesOf(content);
    if (bytes.length > this.config.maxModuleBytes) {
      throw new AppException(ErrorCode.PayloadTooLarge, 'Module is larger than WASM_MAX_MODULE_BYTES');
    }
    const hashed = await hashedContent(content);
    const known = await this.repository.findById(hashed.sha256);
    // The file is rewritten if it went missing or no longer verifies (put is idempotent).
    if (known) {
      await this.content.put(hashed);
      return { record: known, created: false };
    }
    const summary = await this.validate(bytes, check);
    // File first, row second: a row never points at bytes that are not on disk.
    const moduleId = await this.content.put(hashed);
    return this.insertNamingBytes(hashed, {
      moduleId,
      sizeBytes: bytes.length,
      imports: summary.imports,
      exports: summary.exports,
      uploadedBy,
    });
  }

  /**
   * The row, inserted under the module's bytes lock with its bytes present: `put` may have found an old copy
   * nobody named (and kept it) that collectUnnamedBytes has removed since, so a missing copy is written again
   * here, where no sweep can remove it before the row names it. Presence is enough: `put` verified the bytes.
   */
  private insertNamingBytes(
    hashed: HashedContent,
    module: NewWasmModule,
  ): Promise<{ record: WasmModuleRecord; created: boolean }> {
    return this.tx.run(async () => {
      await this.repository.lockBytes(module.moduleId);
      if (!(await this.content.exists(module.moduleId))) await this.content.put(hashed);
      return this.repository.insertIfAbsent(module);
    });
  }

  /** Stored module bytes no row names, over an hour old, removed (see collectUnnamedBytes): how many. */
  collectUnnamedBytes(now = Date.now()): Promise<number> {
    return collectUnnamedBytes(this.content, this.repository, this.tx, now);
  }

  /**
   * Stores a built-in module (the programs of `computation` tasks) owned by no user: an uploader owns what
   * counts toward their storage and what they may delete, and a built-in is neither (even when a user had
   * uploaded the same bytes first). Idempotent: run at every boot.
   */
  async registerBuiltIn(bytes: Uint8Array): Promise<WasmModuleRecord> {
    const { record } = await this.store(bytes, null, (own) => this.checker.checkBuiltIn(own));
    // Idempotent: also claims bytes a user uploaded first (they keep their ownership row, uncharged).
    await this.repository.markBuiltIn(record.moduleId);
    return { ...record, uploadedBy: null };
  }

  async metadata(moduleId: string): Promise<WasmModuleRecord> {
    // A malformed id is "not found" too: it can never name a module, and it never reaches the file system.
    if (!isSha256Hex(moduleId)) throw AppException.notFound('Module not found');
    const record = await this.repository.findById(moduleId);
    if (!record) throw AppException.notFound('Module not found');
    return record;
  }

  /** Whether a module row exists (a malformed id never does). */
  async exists(moduleId: string): Promise<boolean> {
    return isSha256Hex(moduleId) && (await this.repository.findById(moduleId)) !== null;
  }

  /**
   * The verified bytes of a stored module (row must exist; file read once and checked against the id). A
   * module stored before WASM_MAX_MODULE_BYTES was lowered stays readable: the limit governs new uploads, and
   * the read is bounded by the size its row recorded (the bytes must still hash to the id).
   */
  async read(moduleId: string): Promise<Buffer> {
    const record = await this.metadata(moduleId);
    return this.readFile(moduleId, Math.max(record.sizeBytes, this.config.maxModuleBytes));
  }

  /** The verified bytes of `<id>.wasm`; any refusal is "not found", a hash mismatch a 409. */
  async readFile(moduleId: string, maxBytes = this.config.maxModuleBytes): Promise<Buffer> {
    if (!isSha256Hex(moduleId)) throw AppException.notFound('Module not found');
    try {
      return await this.content.open(moduleId, maxBytes);
    } catch (error) {
      // A path probe must not learn what exists on the host: every reason reads the same to a client.
      if (error instanceof ContentUnavailableError) throw AppException.notFound('Module not found');
      if (error instanceof ContentIntegrityError) throw new ModuleIntegrityError();
      throw error;
    }
  }

  /** The checks every stored module passes (parsed by `check`); failures are 422 with a reason. */
  private async validate(bytes: Uint8Array, check: CheckModule): Promise<ModuleSummary> {
    // Named in the message too, as every one-field 422 is: the reasons are fragments ("is not a WASI command").
    const invalid = (message: string) => AppException.invalidField('wasm_module', message);
    const checked = await check(bytes);
    if (!checked.ok) throw invalid(checked.reason);
    const summary = checked.summary;
    const offending = summary.imports.find((entry) => !isAllowedImport(entry));
    if (offending) {
      throw invalid(
        `import ${describeImport(offending)} is not allowed: only WASI (or WASIX) imports are, and not ` +
          'those that start another module or thread',
      );
    }
    if (!summary.exports.some((e) => e.name === '_start' && e.kind === 'function')) {
      throw invalid('is not a WASI command: it does not export a _start function');
    }
    // Refused here, not only at its runs: no runtime can ever start it, so storing it would only fail later.
    if (!summary.exports.some((e) => e.name === 'memory' && e.kind === 'memory')) {
      throw invalid('is not a WASI command: it does not export its memory');
    }
    if (checked.instantiationFault !== null)
      throw invalid(`cannot be instantiated: ${checked.instantiationFault}`);
    if (summary.imports.length > MAX_SUMMARY_ENTRIES || summary.exports.length > MAX_SUMMARY_ENTRIES) {
      throw invalid(`has more than ${MAX_SUMMARY_ENTRIES} imports or exports`);
    }
    return summary;
  }
}
