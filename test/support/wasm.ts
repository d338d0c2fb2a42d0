import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { AppConfig } from '../../src/config/app-config';
import type { TransactionRunner } from '../../src/database/transaction-runner';
import { WasmRuntimeName } from '../../src/wasm/wasm.config';
import { FsContentStore } from '../../src/storage/fs-content-store';
import { ModuleChecker } from '../../src/wasm/module-checker';
import { moduleContentOptions, ModuleStoreService } from '../../src/wasm/module-store.service';
import { V8Runtime } from '../../src/wasm/v8/v8.runtime';
import { WasmService } from '../../src/wasm/wasm.service';
import {
  NewWasmModule,
  WasmModuleRecord,
  WasmModulesRepository,
} from '../../src/wasm/wasm-modules.repository';
import { WasmerRuntime } from '../../src/wasm/wasmer/wasmer.runtime';
import { name, section } from './wasm-encoding';

export const FIXTURES = join(__dirname, '..', 'fixtures', 'wasm');

export type Fixture =
  | 'echo'
  | 'exit_code'
  | 'loop'
  | 'memory_bomb'
  | 'recursion'
  | 'trap'
  | 'flood'
  | 'read_file'
  | 'write_file'
  | 'env'
  | 'clock_random'
  | 'host_import'
  | 'tiny'
  | 'stdio_escape'
  | 'sleep'
  | 'stdio_stat'
  | 'table_grow'
  | 'big_table'
  | 'zero_writes'
  | 'file_writer'
  | 'fd_edges'
  | 'byte_writes'
  | 'wasix_spawn';

export function fixture(name: Fixture): Buffer {
  return readFileSync(join(FIXTURES, `${name}.wasm`));
}

/**
 * The fixture with a custom section of random bytes appended: it behaves the same, but its bytes (and so its
 * module id) are new, so a test can upload it "for the first time" whatever ran before it.
 */
export function uniqueFixture(fixtureName: Fixture): Buffer {
  const custom = section(0, [...name('vcp-test'), ...randomBytes(16)]);
  return Buffer.concat([fixture(fixtureName), Buffer.from(custom)]);
}

export const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

/**
 * Test double of the repository port, for tests of the engine that do not exercise persistence (the store's
 * own tests run against real PostgreSQL and PGlite).
 */
export class InMemoryWasmModulesRepository extends WasmModulesRepository {
  readonly rows = new Map<string, WasmModuleRecord>();

  insertIfAbsent(module: NewWasmModule) {
    const existing = this.rows.get(module.moduleId);
    if (existing) return Promise.resolve({ record: existing, created: false });
    const record = { ...module, createdAt: new Date() };
    this.rows.set(module.moduleId, record);
    return Promise.resolve({ record, created: true });
  }

  findById(moduleId: string) {
    return Promise.resolve(this.rows.get(moduleId) ?? null);
  }

  markBuiltIn(moduleId: string) {
    const row = this.rows.get(moduleId);
    if (row) this.rows.set(moduleId, { ...row, uploadedBy: null });
    return Promise.resolve();
  }

  /** One process, no database: nothing to take turns with. */
  lockBytes() {
    return Promise.resolve();
  }

  unnamed(moduleIds: string[]) {
    return Promise.resolve(moduleIds.filter((id) => !this.rows.has(id)));
  }
}

/** The in-memory repository's transactions: the work runs as it is (nothing to commit). */
const noTransactions = { run: <T>(work: () => Promise<T>) => work() } as TransactionRunner;

/** The real module store on disk (the module namespace of the content store) over an in-memory repository. */
export async function buildModuleStore(config: AppConfig): Promise<ModuleStoreService> {
  const content = await FsContentStore.create(moduleContentOptions(config.wasm));
  return new ModuleStoreService(
    config.wasm,
    content,
    new InMemoryWasmModulesRepository(),
    new ModuleChecker(config.wasm),
    noTransactions,
  );
}

export interface Engine {
  service: WasmService;
  store: ModuleStoreService;
  close(): Promise<void>;
}

/** The real engine (both runtimes, real store on disk) built from a config, with an in-memory repository. */
export async function buildEngine(config: AppConfig): Promise<Engine> {
  const store = await buildModuleStore(config);
  const service = new WasmService(config.wasm, store, [
    new V8Runtime({ poolSize: config.wasm.maxConcurrency }),
    new WasmerRuntime({ poolSize: config.wasm.maxConcurrency }),
  ]);
  const close = async () => {
    await Promise.all([service.close(), store.checker.close()]);
  };
  return { service, store, close };
}

/** Event-loop delay while `work` runs: p99 and max in milliseconds (10 ms sampling resolution). */
export async function measureEventLoop<T>(
  work: () => Promise<T>,
): Promise<{ value: T; p99Ms: number; maxMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    const value = await work();
    return { value, p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6 };
  } finally {
    histogram.disable();
  }
}

/** The runtimes the conformance and event-loop suites run against: both, always (issue 7). */
export const TIMED_RUNTIMES: WasmRuntimeName[] = ['v8', 'wasmer'];

/**
 * Threads of this process that run guests (both runtimes lower their guest threads to nice ≥ 10) and are
 * running or runnable right now. A spinning guest is always in this set, whatever the machine's load. Linux
 * only: null where /proc/self/task does not exist.
 */
export const runnableGuestThreads = (): Set<string> | null => guestThreads(true);

/** Threads of this process that run guests or wait for one (nice ≥ 10), in any state; null without /proc. */
export function guestThreads(runnableOnly = false): Set<string> | null {
  if (!existsSync('/proc/self/task')) return null;
  const found = new Set<string>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // After "pid (comm) ": field 3 (state) is index 0, field 19 (nice) index 16.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if ((!runnableOnly || fields[0] === 'R') && Number(fields[16]) >= 10) found.add(tid);
    } catch {
      // the thread ended while we looked
    }
  }
  return found;
}

/** Whether a thread of this process still exists. */
export const threadExists = (tid: string) => existsSync(`/proc/self/task/${tid}`);

/**
 * Samples runnableGuestThreads every 50 ms while `work` runs, from `fromMs` on: the threads seen in every sample
 * are the ones that spun throughout (null where /proc is not available).
 */
export async function spinningGuestThreads<T>(
  work: () => Promise<T>,
  fromMs: number,
): Promise<{ value: T; spinning: Set<string> | null }> {
  let spinning: Set<string> | null = null;
  let sampled = false;
  const sample = () => {
    const now = runnableGuestThreads();
    const before = spinning;
    spinning = sampled && before && now ? new Set([...before].filter((tid) => now.has(tid))) : now;
    sampled = true;
  };
  let interval: NodeJS.Timeout | undefined;
  const start = setTimeout(() => {
    sample();
    interval = setInterval(sample, 50);
  }, fromMs);
  try {
    const value = await work();
    return { value, spinning };
  } finally {
    clearTimeout(start);
    clearInterval(interval);
  }
}
