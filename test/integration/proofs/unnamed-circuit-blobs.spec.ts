import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { TransactionRunner } from '../../../src/database/transaction-runner';
import { CircuitBlobSweeper } from '../../../src/proofs/circuit-blob-sweeper';
import { toCircuitRegistration } from '../../../src/proofs/circuit-registration.pipe';
import { CircuitRegistryService } from '../../../src/proofs/circuit-registry.service';
import { CircuitRepository } from '../../../src/proofs/circuit.repository';
import { CURVE } from '../../../src/proofs/proof-system';
import { ContentStore } from '../../../src/storage/content-store';
import { CIRCUIT_BLOBS, storedBytes } from '../../support/content';
import { createTestEnv, describeEachDatabase, TestEnv } from '../../support/databases';
import {
  ageStored,
  holdNextPut,
  holdTransactionOpen,
  HOUR_AND_A_BIT_MS,
  untilWaitingOnAdvisoryLock,
} from '../../support/unnamed-bytes';
import { sha256 } from '../../support/wasm';
import { bootProofs, ZkFixture, zkFixture } from '../../support/zk';

/**
 * Circuit files (wasm, zkey) a crash left between a registration's `put` and its row: the circuit sweep
 * removes them once they are old enough, and never those a circuit names, retired or not, nor those a
 * registration of the same bytes is about to name.
 */
describeEachDatabase('stored circuit files no circuit names, on %s', (database) => {
  let env: TestEnv;
  let app: Awaited<ReturnType<typeof bootProofs>>;
  let ds: DataSource;
  let blobs: ContentStore;
  let sweeper: CircuitBlobSweeper;
  let registry: CircuitRegistryService;
  let circuits: CircuitRepository;

  beforeAll(async () => {
    env = await createTestEnv(database, { PROOF_WORKERS: '1' });
    app = await bootProofs(env.config);
    ds = app.get(DataSource);
    blobs = app.get(ContentStore);
    sweeper = app.get(CircuitBlobSweeper);
    registry = app.get(CircuitRegistryService);
    circuits = app.get(CircuitRepository);
  });

  afterAll(async () => {
    await app?.close();
    await env?.dispose();
  });

  const stored = (id: string) => storedBytes(ds, env.config, CIRCUIT_BLOBS, id);
  const registration = (f: ZkFixture, withZkey = false) =>
    toCircuitRegistration(
      {
        name: f.circuit,
        protocol: f.protocol,
        verification_key: f.vkey,
        wasm: f.wasm.toString('base64'),
        ...(withZkey ? { zkey: f.zkey.toString('base64') } : {}),
      },
      env.config.proofs,
    );
  const age = (id: string) => ageStored(ds, env.config, CIRCUIT_BLOBS, id);

  it("removes old files no circuit names; keeps fresh ones and an active or retired circuit's", async () => {
    const [old, fresh] = [randomBytes(256), randomBytes(256)];
    const [oldId, freshId] = [sha256(old), sha256(fresh)];
    await blobs.put(old); // as a crash after a registration's `put` leaves it: no circuit row
    await blobs.put(fresh);
    const active = zkFixture('multiplier', 'plonk');
    await registry.register(registration(active), null);
    const retiredFixture = zkFixture('multiplier', 'groth16');
    const { circuit: retired } = await registry.register(registration(retiredFixture, true), null);
    await circuits.retire(retired.circuit_id);
    for (const id of [oldId, sha256(active.wasm), sha256(retiredFixture.zkey)]) await age(id);

    expect(await sweeper.sweep()).toBe(1);
    expect(await stored(oldId)).toBeNull();
    expect(await stored(freshId)).toEqual(fresh);
    // An hour on (the clock is the sweep's to be given): the fresh orphan's turn; named files stay.
    expect(await sweeper.sweep(Date.now() + HOUR_AND_A_BIT_MS)).toBe(1);
    expect(await stored(freshId)).toBeNull();
    expect(await stored(sha256(active.wasm))).toEqual(active.wasm);
    expect(await stored(sha256(retiredFixture.zkey))).toEqual(retiredFixture.zkey);
    expect(sha256(await registry.artifact(retired.circuit_id, 'zkey'))).toBe(sha256(retiredFixture.zkey));
  });

  it('files the sweep removes after a registration stored them and before its row: it stores them again', async () => {
    const f = zkFixture('poseidon_preimage', 'plonk');
    const id = sha256(f.wasm);
    await blobs.put(f.wasm);
    await age(id);
    // The registration is held right after its `put` found the old copy (and kept it): the sweep runs then.
    const held = holdNextPut(blobs);
    try {
      const registering = registry.register(registration(f), null);
      await held.done;
      expect(await sweeper.sweep()).toBe(1);
      expect(await stored(id)).toBeNull();
      held.release();
      const { circuit, already_existed } = await registering;
      expect({ wasm: circuit.wasm_sha256, already_existed }).toEqual({ wasm: id, already_existed: false });
      expect(await stored(id)).toEqual(f.wasm);
      expect(sha256(await registry.artifact(circuit.circuit_id, 'wasm'))).toBe(id);
    } finally {
      held.restore();
    }
  });

  it('a circuit row being inserted under the artifacts lock keeps a sweep waiting; the sweep then keeps its file', async () => {
    const wasm = randomBytes(256);
    const id = sha256(wasm);
    await blobs.put(wasm);
    await age(id);
    const r = registration(zkFixture('multiplier', 'fflonk'));
    // Held open: a registration's transaction, artifacts lock taken, its row inserted but not committed.
    const insert = holdTransactionOpen(app.get(TransactionRunner), async () => {
      await circuits.lockArtifacts();
      await circuits.insertIfAbsent({
        circuitId: r.circuitId,
        name: r.name,
        protocol: r.protocol,
        curve: CURVE,
        nPublic: r.nPublic,
        verificationKey: r.verificationKey,
        wasmSha256: id,
        wasmSize: wasm.length,
        zkeySha256: null,
        zkeySize: null,
        createdBy: null,
      });
    });
    await insert.held;
    const sweep = sweeper.sweep();
    await untilWaitingOnAdvisoryLock(ds);
    insert.commit();
    await insert.committed;
    expect(await sweep).toBe(0);
    expect(await stored(id)).toEqual(wasm);
  });
});
