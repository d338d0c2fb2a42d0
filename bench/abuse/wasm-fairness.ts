/**
 * Issue 13, row 6, in bounded form: four users each queue ABUSE_WASM_RUNS (6) runaway modules with timeout_ms
 * ABUSE_WASM_TIMEOUT_MS (1000); once they wait, a fifth user runs a trivial module VICTIM_RUNS (5) times in a
 * row. Prints the victim's latency (target ≤ 2 s) with per-user queues, and again with everyone in one line
 * (as before).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { internalLane, Lane, userLane } from '../../src/common/concurrency/fair-queue';
import { AppConfig } from '../../src/config/app-config';
import { loadConfig } from '../../src/config/load-config';
import { FsContentStore } from '../../src/storage/fs-content-store';
import { ModuleChecker } from '../../src/wasm/module-checker';
import { moduleContentOptions, ModuleStoreService } from '../../src/wasm/module-store.service';
import { V8Runtime } from '../../src/wasm/v8/v8.runtime';
import { WasmService } from '../../src/wasm/wasm.service';
import {
  AbuseResult,
  ATTACKERS,
  FIXTURES,
  MemoryRepository,
  memoryTransactions,
  ms,
  timed,
  verdict,
  VICTIM_RUNS,
} from '../support/abuse';

const WASM_RUNS = Number(process.env.ABUSE_WASM_RUNS ?? 6);
const WASM_TIMEOUT_MS = Number(process.env.ABUSE_WASM_TIMEOUT_MS ?? 1000);

/** Four flooding users and one victim; `laneOf` decides whose queue each run waits in. */
async function wasmFlood(config: AppConfig, laneOf: (user: string) => Lane): Promise<number[]> {
  const content = await FsContentStore.create(moduleContentOptions(config.wasm));
  const store = new ModuleStoreService(
    config.wasm,
    content,
    new MemoryRepository(),
    new ModuleChecker(config.wasm),
    memoryTransactions,
  );
  const engine = new WasmService(config.wasm, store, [
    new V8Runtime({ poolSize: config.wasm.maxConcurrency }),
  ]);
  const loop = readFileSync(join(FIXTURES, 'wasm', 'loop.wasm'));
  const tiny = readFileSync(join(FIXTURES, 'wasm', 'tiny.wasm'));
  try {
    await engine.runBytes(tiny, { inputs: null }, laneOf('victim')); // a worker is warm
    const flood = Array.from({ length: ATTACKERS * WASM_RUNS }, (_, i) =>
      engine.runBytes(loop, { inputs: null, timeoutMs: WASM_TIMEOUT_MS }, laneOf(`attacker${i % ATTACKERS}`)),
    );
    const latencies: number[] = [];
    for (let i = 0; i < VICTIM_RUNS; i++) {
      latencies.push((await timed(() => engine.runBytes(tiny, { inputs: null }, laneOf('victim')))).ms);
    }
    const queuedAfter = engine.stats.queued;
    await Promise.allSettled(flood);
    console.log(`    (attackers' runs still waiting when the victim was done: ${queuedAfter})`);
    return latencies;
  } finally {
    await Promise.all([engine.close(), store.checker.close()]);
  }
}

async function wasm(config: AppConfig, oneLineConfig: AppConfig, lines: string[]): Promise<boolean> {
  lines.push(
    `\nwasm: ${ATTACKERS} users × ${WASM_RUNS} runaway runs (timeout_ms ${WASM_TIMEOUT_MS}), ` +
      `WASM_MAX_CONCURRENCY ${config.wasm.maxConcurrency}, per user ${config.wasm.maxConcurrencyPerUser}; ` +
      `victim: ${VICTIM_RUNS} trivial runs in a row`,
  );
  const fair = await wasmFlood(config, (user) => userLane(user));
  lines.push(
    `  per-user queues: victim ${fair.map((v) => ms(v)).join(', ')}; worst ${ms(Math.max(...fair))} ` +
      `(target ≤ 2000 ms: ${verdict(Math.max(...fair) <= 2000)})`,
  );
  const oneLine = await wasmFlood(oneLineConfig, () => internalLane('everyone'));
  lines.push(
    `  one line for everyone (the earlier FIFO, for comparison): victim ${oneLine.map((v) => ms(v)).join(', ')}`,
  );
  return Math.max(...fair) <= 2000;
}

export async function run(): Promise<AbuseResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-abuse-wasm-'));
  const lines: string[] = [`cores ${availableParallelism()}`];
  try {
    const env = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'error', ENVIRONMENT: 'test' };
    // The comparison puts everyone in one lane, which must hold the whole flood.
    const pass = await wasm(
      loadConfig(env),
      loadConfig({ ...env, WASM_MAX_QUEUED_PER_USER: '10000' }),
      lines,
    );
    return { name: 'row 6: wasm run flood (fair queuing across users)', lines, pass };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
