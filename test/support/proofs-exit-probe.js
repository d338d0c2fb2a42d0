/*
 * Acceptance 5 probe: from the build (dist/), boot config + database + ProofsModule, register a fixture circuit,
 * verify its proof, close the context, and then do nothing: the process must end on its own. A verifier
 * thread or snarkjs curve left running would keep it alive. Prints the result as one JSON line.
 *   --main-curve        also build snarkjs's default (multi-threaded) curve on the main thread first
 *   --leave-pool-open   close only the database, not the context (negative control)
 */
'use strict';
require('reflect-metadata');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const DIST = join(__dirname, '../../dist/src');
const FIXTURES = join(__dirname, '../fixtures/zk');
const { Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { loadConfig } = require(join(DIST, 'config/load-config'));
const { ConfigModule } = require(join(DIST, 'config/config.module'));
const { DatabaseModule } = require(join(DIST, 'database/database.module'));
const { ProofsModule } = require(join(DIST, 'proofs/proofs.module'));
const { toCircuitRegistration } = require(join(DIST, 'proofs/circuit-registration.pipe'));
const { CircuitRegistryService } = require(join(DIST, 'proofs/circuit-registry.service'));
const { ProofVerificationService } = require(join(DIST, 'proofs/proof-verification.service'));
const { parseVerifyRequest } = require(join(DIST, 'proofs/verify-request'));
const { DataSource } = require('typeorm');

async function main() {
  if (process.argv.includes('--main-curve')) {
    // As a bench or CLI calling snarkjs directly would: its default curve owns threads of its own.
    await require('snarkjs').curves.getCurveFromName('bn128');
  }
  const config = loadConfig(process.env);
  class ProbeModule {}
  Module({ imports: [ConfigModule.forRoot(config), DatabaseModule, ProofsModule] })(ProbeModule);
  const app = await NestFactory.createApplicationContext(ProbeModule, { logger: ['error'] });
  const json = (file) => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8'));
  const { circuit } = await app
    .get(CircuitRegistryService)
    .register(
      toCircuitRegistration(
        { name: 'probe', protocol: 'groth16', verification_key: json('multiplier.groth16.vkey.json') },
        config.proofs,
      ),
      null,
    );
  const [{ user_id }] = await app
    .get(DataSource)
    .query(`INSERT INTO users (username, password_hash) VALUES ($1, 'x') RETURNING user_id`, [
      `probe_${process.pid}`,
    ]);
  const result = await app.get(ProofVerificationService).verify(
    parseVerifyRequest({
      circuit_id: circuit.circuit_id,
      proof: json('multiplier.groth16.proof.json'),
      public_signals: json('multiplier.groth16.public.json'),
    }),
    user_id,
  );
  console.log(JSON.stringify(result));
  if (process.argv.includes('--leave-pool-open')) {
    // Negative control: close only the database, so the verifier threads are all that is left running.
    await app.get(DataSource).destroy();
    return;
  }
  await app.close();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
