/**
 * Issue 13, rows 5 and 6, in bounded form: what a flood does to other users and to verdicts.
 *
 *  - proofs: ABUSE_PROOFS (2 500) concurrent valid PLONK verifications from four users through
 *    ProofVerificationService (default PROOF_WORKERS and PROOF_VERIFY_TIMEOUT_MS unless set), while a fifth user
 *    verifies one proof after another. Prints verdicts, refusals and how many valid proofs were stored as
 *    `valid: false` (target 0), and the victim's latency.
 *  - wasm: four users each queue ABUSE_WASM_RUNS (6) runaway modules with timeout_ms ABUSE_WASM_TIMEOUT_MS
 *    (1000); once they wait, a fifth user runs a trivial module VICTIM_RUNS (5) times in a row. Prints the
 *    victim's latency (target ≤ 2 s) with per-user queues, and again with everyone in one line (as before).
 *
 *   npm run bench:abuse            (DATABASE_URL for PostgreSQL; PGlite otherwise)
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { internalLane, Lane, userLane } from '../src/common/concurrency/fair-queue';
import { AppException } from '../src/common/errors/app.exception';
import { AppConfig } from '../src/config/app-config';
import { ConfigModule } from '../src/config/config.module';
import { loadConfig } from '../src/config/load-config';
import { DatabaseModule } from '../src/database/database.module';
import { toCircuitRegistration } from '../src/proofs/circuit-registration.pipe';
import { CircuitRegistryService } from '../src/proofs/circuit-registry.service';
import { ProofVerificationService } from '../src/proofs/proof-verification.service';
import { ProofsModule } from '../src/proofs/proofs.module';
import { parseVerifyRequest } from '../src/proofs/verify-request';
import { FsContentStore } from '../src/storage/fs-content-store';
import { ModuleChecker } from '../src/wasm/module-checker';
import { moduleContentOptions, ModuleStoreService } from '../src/wasm/module-store.service';
import { V8Runtime } from '../src/wasm/v8/v8.runtime';
import { WasmService } from '../src/wasm/wasm.service';
import { NewWasmModule, WasmModuleRecord, WasmModulesRepository } from '../src/wasm/wasm-modules.repository';

const PROOFS = Number(process.env.ABUSE_PROOFS ?? 2500);
const WASM_RUNS = Number(process.env.ABUSE_WASM_RUNS ?? 6);
const WASM_TIMEOUT_MS = Number(process.env.ABUSE_WASM_TIMEOUT_MS ?? 1000);
const VICTIM_RUNS = Number(process.env.VICTIM_RUNS ?? 5);
const ATTACKERS = 4;
const FIXTURES = join(__dirname, '..', '..', 'test', 'fixtures');

const ms = (value: number) => `${value.toFixed(0)} ms`;
const verdict = (met: boolean) => (met ? 'target met' : 'TARGET MISSED');

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - started };
}

async function proofs(config: AppConfig): Promise<void> {
  @Module({ imports: [ConfigModule.forRoot(config), DatabaseModule, ProofsModule] })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: ['error'] });
  try {
    const ds = app.get(DataSource);
    const users: string[] = [];
    for (let i = 0; i <= ATTACKERS; i++) {
      const [{ user_id }] = await ds.query<{ user_id: string }[]>(
        `INSERT INTO users (username, password_hash) VALUES ($1, 'x') RETURNING user_id`,
        [`abuse_${randomBytes(6).toString('hex')}`],
      );
      users.push(user_id);
    }
    const victim = users.pop() as string;
    const read = (name: string) => JSON.parse(readFileSync(join(FIXTURES, 'zk', name), 'utf8')) as unknown;
    const vkey = read('multiplier.plonk.vkey.json') as Record<string, unknown>;
    const { circuit } = await app
      .get(CircuitRegistryService)
      .register(
        toCircuitRegistration(
          { name: 'abuse plonk', protocol: 'plonk', verification_key: vkey },
          config.proofs,
        ),
        null,
      );
    // Parsed once, as VerifyRequestPipe would: the flood below measures the service.
    const body = parseVerifyRequest({
      circuit_id: circuit.circuit_id,
      proof: read('multiplier.plonk.proof.json'),
      public_signals: read('multiplier.plonk.public.json'),
    });
    const sut = app.get(ProofVerificationService);
    for (let i = 0; i < 20; i++) await sut.verify(body, victim).catch(() => undefined); // warm threads

    const counts = { valid: 0, invalid: 0, refused: 0, other: 0 };
    const reasons = new Map<string, number>();
    const flood = Array.from({ length: PROOFS }, (_, i) =>
      sut.verify(body, users[i % ATTACKERS]).then(
        (r) => void (r.valid ? counts.valid++ : counts.invalid++),
        (e: unknown) => {
          if (e instanceof AppException && e.getStatus() === 503) {
            counts.refused++;
            const reason = e.message.replace(/\d+ ms/, 'N ms');
            reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
          } else counts.other++;
        },
      ),
    );
    const victimMs: number[] = [];
    let victimRefused = 0;
    const victimLoop = (async () => {
      for (let i = 0; i < VICTIM_RUNS; i++) {
        const { value, ms: took } = await timed(() =>
          sut.verify(body, victim).then(
            (r) => r.valid,
            () => null,
          ),
        );
        if (value === true) victimMs.push(took);
        else victimRefused++;
      }
    })();
    const { ms: floodMs } = await timed(() => Promise.all([...flood, victimLoop]));
    const [{ n: storedInvalid }] = await ds.query<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM proof_artifacts WHERE circuit_id = $1 AND NOT verified`,
      [circuit.circuit_id],
    );

    console.log(
      `\nproofs: ${PROOFS} valid PLONK from ${ATTACKERS} users at once, ${config.proofs.workers} threads, ` +
        `PROOF_VERIFY_TIMEOUT_MS ${config.proofs.verifyTimeoutMs}, ${config.database.url ? 'PostgreSQL' : 'PGlite'}`,
    );
    console.log(
      `  answered in ${ms(floodMs)}: valid:true ${counts.valid} | valid:false ${counts.invalid} | ` +
        `503 ${counts.refused} | other errors ${counts.other}`,
    );
    for (const [reason, n] of reasons) console.log(`    503 × ${n}: ${reason}`);
    console.log(
      `  valid proofs stored as invalid: ${storedInvalid} (target 0: ${verdict(storedInvalid === 0)})`,
    );
    console.log(
      `  victim (another user, ${VICTIM_RUNS} in a row during the flood): ` +
        `${victimMs.map((v) => ms(v)).join(', ') || 'none verified'}; refused ${victimRefused}`,
    );
  } finally {
    await app.close();
  }
}

/** Module rows in memory: the engine scenario needs no database. */
class MemoryRepository extends WasmModulesRepository {
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
}

/** Four flooding users and one victim; `laneOf` decides whose queue each run waits in. */
async function wasmFlood(config: AppConfig, laneOf: (user: string) => Lane): Promise<number[]> {
  const content = await FsContentStore.create(moduleContentOptions(config.wasm));
  const store = new ModuleStoreService(
    config.wasm,
    content,
    new MemoryRepository(),
    new ModuleChecker(config.wasm),
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
    await Promise.all([engine.onModuleDestroy(), store.checker.close()]);
  }
}

async function wasm(config: AppConfig, oneLineConfig: AppConfig): Promise<void> {
  console.log(
    `\nwasm: ${ATTACKERS} users × ${WASM_RUNS} runaway runs (timeout_ms ${WASM_TIMEOUT_MS}), ` +
      `WASM_MAX_CONCURRENCY ${config.wasm.maxConcurrency}, per user ${config.wasm.maxConcurrencyPerUser}; ` +
      `victim: ${VICTIM_RUNS} trivial runs in a row`,
  );
  const fair = await wasmFlood(config, (user) => userLane(user));
  console.log(
    `  per-user queues: victim ${fair.map((v) => ms(v)).join(', ')}; worst ${ms(Math.max(...fair))} ` +
      `(target ≤ 2000 ms: ${verdict(Math.max(...fair) <= 2000)})`,
  );
  const oneLine = await wasmFlood(oneLineConfig, () => internalLane('everyone'));
  console.log(
    `  one line for everyone (the earlier FIFO, for comparison): victim ${oneLine.map((v) => ms(v)).join(', ')}`,
  );
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-abuse-'));
  try {
    const env = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'error', ENVIRONMENT: 'test' };
    const config = loadConfig(env);
    console.log(`cores ${availableParallelism()}`);
    await proofs(config);
    // The comparison puts everyone in one lane, which must hold the whole flood.
    await wasm(config, loadConfig({ ...env, WASM_MAX_QUEUED_PER_USER: '10000' }));
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
