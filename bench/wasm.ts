/**
 * Per-call cost of each WASM runtime for a tiny module (an empty `_start`), cold and warm, against a raw
 * `WebAssembly.instantiate(bytes) + _start()` measured in the same run (the baseline of issue 7). Prints
 * p50s and ratios; asserts nothing. The default runtime (WASM_DEFAULT_RUNTIME) was chosen from these
 * numbers (see bench/README.md). Two reference rows, not part of the target:
 *  - `raw+wasi`: the same plain script plus what a WASI command needs, a `node:wasi` instance and
 *    `wasi.start()` (the tiny module imports nothing, so the raw baseline needs no WASI);
 *  - `v8 by id`: a module run from the store by id, as the HTTP endpoint does (row lookup, path
 *    containment and the verified read; the repository here is in memory, so no database time).
 *
 *   npm run bench:wasm            (CALLS=200 to change the number of warm calls)
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WASI } from 'node:wasi';
import { WasmRuntimeName } from '../src/wasm/wasm.config';
import { loadConfig } from '../src/config/load-config';
import { FsContentStore } from '../src/storage/fs-content-store';
import { ModuleChecker } from '../src/wasm/module-checker';
import { moduleContentOptions, ModuleStoreService } from '../src/wasm/module-store.service';
import { V8Runtime } from '../src/wasm/v8/v8.runtime';
import { ENGINE_LANE, WasmService } from '../src/wasm/wasm.service';
import { NewWasmModule, WasmModuleRecord, WasmModulesRepository } from '../src/wasm/wasm-modules.repository';
import type { TransactionRunner } from '../src/database/transaction-runner';
import { WasmerRuntime } from '../src/wasm/wasmer/wasmer.runtime';

const CALLS = Number(process.env.CALLS ?? 200);
const TINY = readFileSync(join(__dirname, '..', '..', 'test', 'fixtures', 'wasm', 'tiny.wasm'));

/** The bench never touches a database: module rows live in memory. */
class MemoryRepository extends WasmModulesRepository {
  private readonly rows = new Map<string, WasmModuleRecord>();
  insertIfAbsent(module: NewWasmModule): Promise<{ record: WasmModuleRecord; created: boolean }> {
    const existing = this.rows.get(module.moduleId);
    if (existing) return Promise.resolve({ record: existing, created: false });
    const record = { ...module, createdAt: new Date() };
    this.rows.set(module.moduleId, record);
    return Promise.resolve({ record, created: true });
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

const p50 = (samples: number[]) => [...samples].sort((a, b) => a - b)[Math.floor(samples.length / 2)];

async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function measure(once: () => Promise<unknown>): Promise<{ cold: number; warm: number }> {
  const cold = await time(once);
  const samples: number[] = [];
  for (let i = 0; i < CALLS; i++) samples.push(await time(once));
  return { cold, warm: p50(samples) };
}

function raw(): Promise<{ cold: number; warm: number }> {
  return measure(async () => {
    const { instance } = await WebAssembly.instantiate(TINY, {});
    (instance.exports._start as () => void)();
  });
}

function rawWithWasi(): Promise<{ cold: number; warm: number }> {
  return measure(async () => {
    const wasi = new WASI({ version: 'preview1', returnOnExit: true });
    const { instance } = await WebAssembly.instantiate(TINY, wasi.getImportObject() as WebAssembly.Imports);
    wasi.start(instance);
  });
}

async function engine(
  runtime: WasmRuntimeName,
  dir: string,
  stored = false,
): Promise<{ cold: number; warm: number }> {
  const config = loadConfig({
    ...process.env,
    EMBEDDED_NODE: 'off',
    DATA_DIR: dir,
    WASM_ALLOWED_ROOTS: join(dir, 'modules'),
  });
  const content = await FsContentStore.create(moduleContentOptions(config.wasm));
  const store = new ModuleStoreService(
    config.wasm,
    content,
    new MemoryRepository(),
    new ModuleChecker(config.wasm),
    { run: <T>(work: () => Promise<T>) => work() } as TransactionRunner,
  );
  // A fresh engine per row, so "cold" includes starting its workers or SDK and compiling the module.
  const service = new WasmService(config.wasm, store, [
    new V8Runtime({ poolSize: config.wasm.maxConcurrency }),
    new WasmerRuntime({ poolSize: config.wasm.maxConcurrency }),
  ]);
  const moduleId = stored ? (await store.store(TINY, null)).record.moduleId : null;
  const call = async () => {
    const request = { inputs: null, runtime };
    const result = moduleId
      ? await service.run(moduleId, request, ENGINE_LANE)
      : await service.runBytes(TINY, request);
    if (result.outcome !== 'ok') throw new Error(`${runtime}: unexpected outcome ${result.outcome}`);
  };
  try {
    const cold = await time(call);
    const samples: number[] = [];
    for (let i = 0; i < CALLS; i++) samples.push(await time(call));
    return { cold, warm: p50(samples) };
  } finally {
    await Promise.all([service.close(), store.checker.close()]);
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vcp-bench-wasm-'));
  try {
    const baseline = await raw();
    const rows: [string, { cold: number; warm: number }][] = [['raw', baseline]];
    rows.push(['raw+wasi', await rawWithWasi()]);
    for (const runtime of ['v8', 'wasmer'] as const) rows.push([runtime, await engine(runtime, dir)]);
    rows.push(['v8 by id', await engine('v8', dir, true)]);
    console.log(`tiny module (${TINY.length} bytes), ${CALLS} warm calls each; times in ms (warm = p50)`);
    console.log('runtime   cold ms   warm p50 ms   cold/raw-cold   warm/raw-warm');
    for (const [name, { cold, warm }] of rows) {
      console.log(
        `${name.padEnd(9)}${cold.toFixed(2).padStart(8)} ${warm.toFixed(3).padStart(13)} ` +
          `${(cold / baseline.cold).toFixed(1).padStart(15)} ${(warm / baseline.warm).toFixed(1).padStart(15)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
