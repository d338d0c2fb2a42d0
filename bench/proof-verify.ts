/**
 * Proof verification cost, measured in one run on this machine (prints ratios, asserts nothing):
 *  1. latency: the service's verify (validation + worker round trip + stored artifact; PGlite unless
 *     DATABASE_URL is set) ÷ raw
 *     snarkjs verify on this thread with its cached curve, sequentially, for Groth16 and PLONK;
 *  2. throughput: the verifier pool with one thread per core vs a single thread, same N concurrent proofs.
 *
 *   npm run bench:proofs            (N=200 ROUNDS=30 to change the load)
 */
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ConfigModule } from '../src/config/config.module';
import { loadConfig } from '../src/config/load-config';
import { DatabaseModule } from '../src/database/database.module';
import { CircuitRegistryService } from '../src/proofs/circuit-registry.service';
import { ProofVerificationService } from '../src/proofs/proof-verification.service';
import { ProofsModule } from '../src/proofs/proofs.module';
import { VerifierPool, VerifyJob } from '../src/proofs/verifier-pool';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const snarkjs = require('snarkjs') as Record<string, { verify(...args: unknown[]): Promise<boolean> }>;

const N = Number(process.env.N ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 30);
const FIXTURES = join(__dirname, '../../test/fixtures/zk');
const json = (file: string): unknown => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function fixture(protocol: 'groth16' | 'plonk') {
  return {
    vkey: json(`multiplier.${protocol}.vkey.json`),
    proof: json(`multiplier.${protocol}.proof.json`),
    publicSignals: json(`multiplier.${protocol}.public.json`) as string[],
  };
}

async function timeEach(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 5; i++) await fn(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const started = performance.now();
    await fn();
    times.push(performance.now() - started);
  }
  return median(times);
}

async function throughput(workers: number, job: VerifyJob): Promise<number> {
  const pool = new VerifierPool({ workers, timeoutMs: 120_000 });
  try {
    await Promise.all(Array.from({ length: workers * 2 }, () => pool.verify(job))); // threads warm
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: N }, () => pool.verify(job)));
    const seconds = (performance.now() - started) / 1000;
    if (!results.every((r) => r.kind === 'verified' && r.valid))
      throw new Error('a bench verification failed');
    return N / seconds;
  } finally {
    await pool.close();
  }
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-proofs-'));
  const config = loadConfig({ ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'error', ENVIRONMENT: 'test' });
  @Module({ imports: [ConfigModule.forRoot(config), DatabaseModule, ProofsModule] })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: ['error'] });
  const [{ user_id }] = await app
    .get(DataSource)
    .query<{ user_id: string }[]>(
      `INSERT INTO users (username, password_hash) VALUES ('bench', 'x') RETURNING user_id`,
    );
  const service = app.get(ProofVerificationService);
  console.log(
    `cores ${availableParallelism()}, service pool ${config.proofs.workers} threads, ${ROUNDS} rounds`,
  );

  for (const protocol of ['groth16', 'plonk'] as const) {
    const f = fixture(protocol);
    const { circuit } = await app
      .get(CircuitRegistryService)
      .register({ name: protocol, protocol, verification_key: f.vkey }, null);
    const body = { circuit_id: circuit.circuit_id, proof: f.proof, public_signals: f.publicSignals };
    const raw = await timeEach(() => snarkjs[protocol].verify(f.vkey, f.publicSignals, f.proof));
    const svc = await timeEach(() => service.verify(body, user_id));
    const pool = app.get(VerifierPool);
    const job: VerifyJob = { protocol, vkey: f.vkey, proof: f.proof, publicSignals: f.publicSignals };
    const trip = await timeEach(() => pool.verify(job));
    console.log(
      `${protocol.padEnd(7)} raw snarkjs (cached curve) ${raw.toFixed(1)} ms | pool round trip ${trip.toFixed(1)} ms` +
        ` | service verify ${svc.toFixed(1)} ms | ratio service/raw ${(svc / raw).toFixed(2)} (target ≤ 1.3)`,
    );
  }
  await app.close(); // also terminates the main-thread curve the raw runs built

  const f = fixture('groth16');
  const job: VerifyJob = {
    protocol: 'groth16',
    vkey: f.vkey,
    proof: f.proof,
    publicSignals: f.publicSignals,
  };
  const single = await throughput(1, job);
  const cores = availableParallelism();
  const pooled = await throughput(cores, job);
  console.log(
    `throughput (${N} concurrent Groth16): 1 thread ${single.toFixed(0)}/s | ${cores} threads ${pooled.toFixed(0)}/s` +
      ` | ratio ${(pooled / single).toFixed(2)} (target ≥ 1.7 on 2 cores)`,
  );
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
