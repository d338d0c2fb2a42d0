import { join } from 'node:path';
import type { TransactionRunner } from '../../src/database/transaction-runner';
import {
  NewWasmModule,
  WasmModuleRecord,
  WasmModulesRepository,
} from '../../src/wasm/wasm-modules.repository';

/** What every scenario in bench/abuse/ exports; bench/abuse.ts runs them all. */
export interface AbuseResult {
  name: string;
  lines: string[];
  pass: boolean;
}

export const ATTACKERS = 4;
export const VICTIM_RUNS = Number(process.env.VICTIM_RUNS ?? 5);
/** test/fixtures, from dist/bench/support/ (where the built benches run). */
export const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'fixtures');

export const ms = (value: number) => `${value.toFixed(0)} ms`;
export const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
export const verdict = (met: boolean) => (met ? 'target met' : 'TARGET MISSED');

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

/** Module rows in memory: the engine scenarios need no database. */
export class MemoryRepository extends WasmModulesRepository {
  private readonly rows = new Map<string, WasmModuleRecord>();
  insertIfAbsent(module: NewWasmModule): Promise<{ record: WasmModuleRecord; created: boolean }> {
    const record = this.rows.get(module.moduleId) ?? { ...module, createdAt: new Date() };
    const created = !this.rows.has(module.moduleId);
    this.rows.set(module.moduleId, record);
    return Promise.resolve({ record, created });
  }
  findById(moduleId: string): Promise<WasmModuleRecord | null> {
    return Promise.resolve(this.rows.get(moduleId) ?? null);
  }
  markBuiltIn(moduleId: string): Promise<void> {
    const row = this.rows.get(moduleId);
    if (row) this.rows.set(moduleId, { ...row, uploadedBy: null });
    return Promise.resolve();
  }
  lockBytes(): Promise<void> {
    return Promise.resolve();
  }
  unnamed(moduleIds: string[]): Promise<string[]> {
    return Promise.resolve(moduleIds.filter((id) => !this.rows.has(id)));
  }
}

/** Transactions for MemoryRepository: the work runs as it is (nothing to commit). */
export const memoryTransactions = { run: <T>(work: () => Promise<T>) => work() } as TransactionRunner;
