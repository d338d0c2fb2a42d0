import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INestApplicationContext } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../src/config/app-config';
import { ConfigModule } from '../../src/config/config.module';
import { DatabaseModule } from '../../src/database/database.module';
import { ProofsModule } from '../../src/proofs/proofs.module';
import { ORIGINAL_TASK, postTask } from './tasks';

export const ZK_FIXTURES = join(__dirname, '../fixtures/zk');

export type FixtureCircuit = 'multiplier' | 'poseidon_preimage';
export type FixtureProtocol = 'groth16' | 'plonk' | 'fflonk';

export interface ZkFixture {
  circuit: FixtureCircuit;
  protocol: FixtureProtocol;
  vkey: Record<string, unknown>;
  proof: Record<string, unknown>;
  publicSignals: string[];
  wasm: Buffer;
  zkey: Buffer;
}

// Written out here rather than imported, so a wrong constant in the code cannot agree with itself.
/** bn128's scalar field order r (public signals and evaluations must be below it). */
export const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
/** bn128's base field order q (point coordinates must be below it). */
export const Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

/** base64 of `value`'s JSON, as the original's `proof_data` / `public_inputs` carry it. */
export const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');

/** Circuit ids of registered fixtures, keyed `${circuit}.${protocol}` (e.g. `multiplier.plonk`). */
export type FixtureIds = Record<string, string>;

const json = <T>(file: string): T => JSON.parse(readFileSync(join(ZK_FIXTURES, file), 'utf8')) as T;

/** A fixture written by scripts/zk/build-fixtures; a fresh copy each call, so tests may mutate it. */
export function zkFixture(circuit: FixtureCircuit, protocol: FixtureProtocol): ZkFixture {
  const base = `${circuit}.${protocol}`;
  return {
    circuit,
    protocol,
    vkey: json(`${base}.vkey.json`),
    proof: json(`${base}.proof.json`),
    publicSignals: json(`${base}.public.json`),
    wasm: readFileSync(join(ZK_FIXTURES, `${circuit}.wasm`)),
    zkey: readFileSync(join(ZK_FIXTURES, `${base}.zkey`)),
  };
}

/** Config, database (migrations run) and ProofsModule: the services beneath the proof routes. */
export async function bootProofs(
  config: AppConfig,
  overrides: { provide: unknown; useValue: unknown }[] = [],
) {
  let builder = Test.createTestingModule({
    imports: [ConfigModule.forRoot(config), DatabaseModule, ProofsModule],
  });
  for (const o of overrides) builder = builder.overrideProvider(o.provide).useValue(o.useValue);
  const moduleRef = await builder.compile();
  await moduleRef.init();
  return moduleRef as INestApplicationContext & typeof moduleRef;
}

/** A user and, optionally, tasks of theirs, inserted directly (the identity layer does not exist yet). */
export async function createUser(ds: DataSource, username: string): Promise<string> {
  const [{ user_id }] = await ds.query(
    `INSERT INTO users (username, password_hash) VALUES ($1, 'x') RETURNING user_id`,
    [username],
  );
  return user_id as string;
}

export async function createTask(ds: DataSource, creatorId: string, circuitId: string): Promise<string> {
  const [{ task_id }] = await ds.query(
    `INSERT INTO tasks (creator_id, task_type, max_execution_time_sec, require_proof, circuit_id)
     VALUES ($1, 'zk_proof', 60, true, $2) RETURNING task_id`,
    [creatorId, circuitId],
  );
  return task_id as string;
}

/** A run of the task, leased to a fresh node of the task's creator (a run always belongs to a node). */
export async function createRun(ds: DataSource, taskId: string): Promise<string> {
  const nodeId = `zk-node-${randomBytes(4).toString('hex')}`;
  await ds.query(
    `INSERT INTO nodes (node_id, owner_id, region, node_type, bandwidth_mbps, cpu_cores, memory_gb)
     SELECT $1, creator_id, 'test', 'compute', 100, 2, 4 FROM tasks WHERE task_id = $2`,
    [nodeId, taskId],
  );
  const [{ run_id }] = await ds.query(
    `INSERT INTO task_runs (task_id, node_id, lease_expires_at) VALUES ($1, $2, now() + interval '1 minute')
     RETURNING run_id`,
    [taskId, nodeId],
  );
  return run_id as string;
}

/** The body of `POST /api/v1/admin/circuits` for a fixture (uploads optional). */
export function circuitPayload(
  circuit: FixtureCircuit,
  protocol: FixtureProtocol,
  uploads: { wasm?: boolean; zkey?: boolean } = {},
): Record<string, unknown> {
  const f = zkFixture(circuit, protocol);
  return {
    name: `${circuit} ${protocol}`,
    protocol,
    verification_key: f.vkey,
    ...(uploads.wasm ? { wasm: f.wasm.toString('base64') } : {}),
    ...(uploads.zkey ? { zkey: f.zkey.toString('base64') } : {}),
  };
}

/** A verify body in the modern form for a registered fixture's own proof and signals; `patch` overrides fields. */
export function verifyBody(
  ids: FixtureIds,
  circuit: FixtureCircuit,
  protocol: FixtureProtocol,
  patch: Record<string, unknown> = {},
): Record<string, unknown> {
  const f = zkFixture(circuit, protocol);
  return {
    circuit_id: ids[`${circuit}.${protocol}`],
    proof: f.proof,
    public_signals: f.publicSignals,
    ...patch,
  };
}

/** `POST /api/v1/tasks` of a zk_proof task on `circuitId` whose statement is the fixture's public signals. */
export function postZkTask(
  app: NestFastifyApplication,
  headers: Record<string, string>,
  circuitId: string,
  circuit: FixtureCircuit = 'multiplier',
) {
  return postTask(app, headers, {
    ...ORIGINAL_TASK,
    task_type: 'zk_proof',
    circuit_id: circuitId,
    inputs: { public_signals: zkFixture(circuit, 'groth16').publicSignals },
  });
}

/** `POST /api/v1/proofs/verify` of a fixture's own proof and signals against `circuitId`; `patch` overrides fields. */
export function postFixtureProof(
  app: NestFastifyApplication,
  headers: Record<string, string>,
  circuitId: string,
  circuit: FixtureCircuit,
  protocol: FixtureProtocol,
  patch: Record<string, unknown> = {},
) {
  return app.inject({
    method: 'POST',
    url: '/api/v1/proofs/verify',
    headers,
    payload: verifyBody({ [`${circuit}.${protocol}`]: circuitId }, circuit, protocol, patch),
  });
}

/** A verify body in the original's form: base64 fields as given (public inputs default to valid-looking ones). */
export function legacyVerifyBody(
  taskId: string,
  circuitId: string,
  proofData: string,
  publicInputs: string = b64(['33', '11']),
): Record<string, unknown> {
  return { task_id: taskId, circuit_id: circuitId, proof_data: proofData, public_inputs: publicInputs };
}

/**
 * Malformed `public_signals` for the multiplier circuit (valid: ["33", "11"]): each must be a 422 naming the
 * field, before any verification runs. [case, signals, field named]
 */
export const MALFORMED_SIGNAL_CASES: [string, unknown, string][] = [
  ['a signal replaced by itself + r', [String(33n + R), '11'], 'public_signals[0]'],
  ['r itself', ['33', String(R)], 'public_signals[1]'],
  ['a leading zero', ['033', '11'], 'public_signals[0]'],
  ['hex', ['0x21', '11'], 'public_signals[0]'],
  ['a plus sign', ['+33', '11'], 'public_signals[0]'],
  ['a minus sign', ['33', '-11'], 'public_signals[1]'],
  ['whitespace', [' 33', '11'], 'public_signals[0]'],
  ['a number instead of a string', [33, '11'], 'public_signals[0]'],
  ['an exponent', ['3.3e1', '11'], 'public_signals[0]'],
  ['one signal too many', ['33', '11', '1'], 'public_signals'],
  ['one signal too few', ['33'], 'public_signals'],
  ['empty signals', [], 'public_signals'],
  ['a string instead of a list', '33,11', 'public_signals'],
];

/** Registers a fixture circuit as an admin (`headers`); its circuit_id. */
export async function registerCircuit(
  app: NestFastifyApplication,
  headers: Record<string, string>,
  circuit: FixtureCircuit,
  protocol: FixtureProtocol,
  uploads: { wasm?: boolean; zkey?: boolean } = { wasm: true, zkey: true },
): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/admin/circuits',
    headers,
    payload: circuitPayload(circuit, protocol, uploads),
  });
  expect(res.statusCode).toBe(201);
  return res.json<{ circuit_id: string }>().circuit_id;
}
