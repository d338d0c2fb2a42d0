/**
 * Proof verification cost, measured in one run on this machine (prints ratios, asserts nothing):
 *  1. latency: the service's verify (validation + worker round trip + stored artifact; PGlite unless
 *     DATABASE_URL is set) ÷ raw snarkjs verify on this thread with a cached curve, for Groth16 and PLONK.
 *     The raw curve is built as the verifier threads build theirs (single-threaded, once), so the ratio is the
 *     service's own overhead; snarkjs's default curve (it spreads a Groth16 multiexp over worker threads of its
 *     own, which costs more than it saves on a small circuit) is printed beside it for reference only.
 *     Every round times all of them once, in rotating order, so that load from other processes on the machine
 *     falls on all alike: timing one after the other in blocks turns that drift into a false ratio.
 *  2. throughput: the verifier pool with one thread per core vs a single thread, same N concurrent proofs.
 *
 *   npm run bench:proofs            (N=200 ROUNDS=60 to change the load)
 */
import { NestFactory } from '@nestjs/core';
import { Module } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { ConfigModule } from '../src/config/config.module';
import { loadConfig } from '../src/config/load-config';
import { DatabaseModule } from '../src/database/database.module';
import { toCircuitRegistration } from '../src/proofs/circuit-registration.pipe';
import { CircuitRegistryService } from '../src/proofs/circuit-registry.service';
import { ProofVerificationService } from '../src/proofs/proof-verification.service';
import { ProofsModule } from '../src/proofs/proofs.module';
import { VerifierPool, VerifyJob } from '../src/proofs/verifier-pool';
import { internalLane } from '../src/common/concurrency/fair-queue';
import { parseVerifyRequest } from '../src/proofs/verify-request';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const snarkjs = require('snarkjs') as Record<
  'groth16' | 'plonk',
  { verify(...args: unknown[]): Promise<boolean> }
> & {
  curves: { getCurveFromName(name: string, options?: { singleThread?: boolean }): Promise<Curve> };
};

interface Curve {
  terminate(): Promise<void>;
}
/** snarkjs's verify takes the bn128 curve from here, building (and caching) its default one when it is unset. */
const global = globalThis as { curve_bn128?: Curve | null };

const N = Number(process.env.N ?? 200);
const BENCH = internalLane('bench');
const ROUNDS = Number(process.env.ROUNDS ?? 60);
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

function valid(ok: boolean): void {
  if (!ok) throw new Error('a bench verification did not verify');
}

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * q)];

/** Times each step once per round, in an order that rotates every round; returns every step's samples. */
async function interleaved<K extends string>(
  steps: Record<K, () => Promise<unknown>>,
): Promise<Record<K, number[]>> {
  const names = Object.keys(steps) as K[];
  for (let i = 0; i < 5; i++) for (const name of names) await steps[name](); // warm-up
  const samples = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<K, number[]>;
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(round + k) % names.length];
      const started = performance.now();
      await steps[name]();
      samples[name].push(performance.now() - started);
    }
  }
  return samples;
}

async function throughput(workers: number, job: VerifyJob): Promise<number> {
  const pool = new VerifierPool({ workers, timeoutMs: 120_000, maxQueuedPerUser: N });
  try {
    await Promise.all(Array.from({ length: workers * 2 }, () => pool.verify(job, BENCH))); // threads warm
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: N }, () => pool.verify(job, BENCH)));
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
  const config = loadConfig({
    ...process.env,
    EMBEDDED_NODE: 'off',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'error',
    ENVIRONMENT: 'test',
  });
  @Module({ imports: [ConfigModule.forRoot(config), DatabaseModule, ProofsModule] })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: ['error'] });
  const [{ user_id }] = await app
    .get(DataSource)
    // A fresh name each run: on PostgreSQL (DATABASE_URL) the database outlives the bench.
    .query<{ user_id: string }[]>(
      `INSERT INTO users (username, password_hash) VALUES ($1, 'x') RETURNING user_id`,
      [`bench_${randomBytes(6).toString('hex')}`],
    );
  const service = app.get(ProofVerificationService);
  const pool = app.get(VerifierPool);
  const database = config.database.url ? 'PostgreSQL' : 'PGlite';
  console.log(
    `cores ${availableParallelism()}, service pool ${config.proofs.workers} threads, ${database}, ${ROUNDS} rounds`,
  );

  // snarkjs's own default curve (threaded), then the one the verifier threads use; `global` picks per call.
  const threadedCurve = await snarkjs.curves.getCurveFromName('bn128');
  const singleCurve = await snarkjs.curves.getCurveFromName('bn128', { singleThread: true });
  const rawVerify = async (protocol: 'groth16' | 'plonk', f: ReturnType<typeof fixture>, curve: Curve) => {
    global.curve_bn128 = curve;
    valid(await snarkjs[protocol].verify(f.vkey, f.publicSignals, f.proof));
  };
  for (const protocol of ['groth16', 'plonk'] as const) {
    const f = fixture(protocol);
    const { circuit } = await app
      .get(CircuitRegistryService)
      .register(
        toCircuitRegistration({ name: protocol, protocol, verification_key: f.vkey }, config.proofs),
        null,
      );
    const body = { circuit_id: circuit.circuit_id, proof: f.proof, public_signals: f.publicSignals };
    const job: VerifyJob = { protocol, vkey: f.vkey, proof: f.proof, publicSignals: f.publicSignals };
    const times = await interleaved({
      raw: () => rawVerify(protocol, f, singleCurve),
      rawDefault: () => rawVerify(protocol, f, threadedCurve),
      trip: async () => {
        const outcome = await pool.verify(job, BENCH);
        valid(outcome.kind === 'verified' && outcome.valid);
      },
      // As the route runs it: the body parsed (VerifyRequestPipe past its DTO), then verified.
      service: async () => valid((await service.verify(parseVerifyRequest(body), user_id)).valid),
    });
    const raw = median(times.raw);
    const svc = median(times.service);
    const perRound = times.service.map((ms, i) => ms / times.raw[i]);
    console.log(
      `${protocol.padEnd(7)} raw snarkjs (cached single-threaded curve, as in the pool) ${raw.toFixed(1)} ms` +
        ` | snarkjs default threaded curve ${median(times.rawDefault).toFixed(1)} ms` +
        ` | pool round trip ${median(times.trip).toFixed(1)} ms | service verify ${svc.toFixed(1)} ms` +
        ` | ratio service/raw ${(svc / raw).toFixed(2)} (target ≤ 1.3;` +
        ` per-round p25–p75 ${quantile(perRound, 0.25).toFixed(2)}–${quantile(perRound, 0.75).toFixed(2)})`,
    );
  }
  // Curves built on this thread own worker threads (the threaded one) that would keep the process alive.
  global.curve_bn128 = null;
  await Promise.all([threadedCurve.terminate(), singleCurve.terminate()]);
  await app.close();

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
