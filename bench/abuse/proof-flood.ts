/**
 * Issue 13, row 5, in bounded form: ABUSE_PROOFS (2 500) concurrent valid PLONK verifications from four users
 * through ProofVerificationService (default PROOF_WORKERS and PROOF_VERIFY_TIMEOUT_MS unless set), while a
 * fifth user verifies one proof after another. Prints verdicts, refusals, how many valid proofs were stored as
 * `valid: false` (target 0) and the victim's latency. DATABASE_URL for PostgreSQL; PGlite otherwise.
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { AppException } from '../../src/common/errors/app.exception';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { loadConfig } from '../../src/config/load-config';
import { DatabaseModule } from '../../src/database/database.module';
import { toCircuitRegistration } from '../../src/proofs/circuit-registration.pipe';
import { CircuitRegistryService } from '../../src/proofs/circuit-registry.service';
import { ProofVerificationService } from '../../src/proofs/proof-verification.service';
import { ProofsModule } from '../../src/proofs/proofs.module';
import { parseVerifyRequest } from '../../src/proofs/verify-request';
import { AbuseResult, ATTACKERS, FIXTURES, ms, timed, verdict, VICTIM_RUNS } from '../support/abuse';

const PROOFS = Number(process.env.ABUSE_PROOFS ?? 2500);

async function proofs(config: AppConfig, lines: string[]): Promise<boolean> {
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

    lines.push(
      `proofs: ${PROOFS} valid PLONK from ${ATTACKERS} users at once, ${config.proofs.workers} threads, ` +
        `PROOF_VERIFY_TIMEOUT_MS ${config.proofs.verifyTimeoutMs}, ${config.database.url ? 'PostgreSQL' : 'PGlite'}`,
    );
    lines.push(
      `  answered in ${ms(floodMs)}: valid:true ${counts.valid} | valid:false ${counts.invalid} | ` +
        `503 ${counts.refused} | other errors ${counts.other}`,
    );
    for (const [reason, n] of reasons) lines.push(`    503 × ${n}: ${reason}`);
    lines.push(
      `  valid proofs stored as invalid: ${storedInvalid} (target 0: ${verdict(storedInvalid === 0)})`,
    );
    lines.push(
      `  victim (another user, ${VICTIM_RUNS} in a row during the flood): ` +
        `${victimMs.map((v) => ms(v)).join(', ') || 'none verified'}; refused ${victimRefused}`,
    );
    return storedInvalid === 0;
  } finally {
    await app.close();
  }
}

export async function run(): Promise<AbuseResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vcp-bench-abuse-proofs-'));
  const lines: string[] = [];
  try {
    const config = loadConfig({ ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'error', ENVIRONMENT: 'test' });
    const pass = await proofs(config, lines);
    return { name: 'row 5: proof flood (overload is never a verdict)', lines, pass };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}
