import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { RegisterCircuitInput, toCircuitRegistration } from '../../../src/proofs/circuit-registration.pipe';
import { CircuitRegistryService } from '../../../src/proofs/circuit-registry.service';
import { ProofVerificationService } from '../../../src/proofs/proof-verification.service';
import { parseVerifyRequest } from '../../../src/proofs/verify-request';
import { CIRCUIT_BLOBS, storeDirectory, storedBytes, storedFile } from '../../support/content';
import { createTestEnv, describeEachDatabase, TestEnv } from '../../support/databases';
import { expect422Thrown as expect422 } from '../../support/validation';
import { bootProofs, createUser, zkFixture } from '../../support/zk';

/**
 * An independent canonicalisation: JSON.stringify with the sorted list of every key as the replacer emits
 * each object's keys in that order and no whitespace. The service's id must equal SHA-256 of this.
 */
function referenceCircuitId(vkey: unknown): string {
  const keys = new Set<string>();
  JSON.stringify(vkey, (key, value: unknown) => (keys.add(key), value));
  const canonical = JSON.stringify(vkey, [...keys].filter((k) => k !== '').sort());
  return createHash('sha256').update(canonical).digest('hex');
}

describeEachDatabase('circuit registry on %s', (database) => {
  let env: TestEnv;
  let app: Awaited<ReturnType<typeof bootProofs>>;
  let registry: CircuitRegistryService;
  /** The route's checks (CircuitRegistrationPipe past its DTO) and the registry, as a body meets them. */
  const sut = {
    register: async (input: RegisterCircuitInput, createdBy: string | null) =>
      registry.register(toCircuitRegistration(input, env.config.proofs), createdBy),
    get: (circuitId: string) => registry.get(circuitId),
  };

  beforeAll(async () => {
    env = await createTestEnv(database, { PROOF_WORKERS: '1', CIRCUIT_WASM_MAX_BYTES: String(64 * 1024) });
    app = await bootProofs(env.config);
    registry = app.get(CircuitRegistryService);
  });

  afterAll(async () => {
    await app?.close();
    await env?.dispose();
  });

  const circuitCount = async () =>
    (await app.get(DataSource).query(`SELECT count(*)::int AS n FROM circuits`))[0].n as number;

  it('stores wasm and zkey by hash (atomically: no temp files left), then verifies against the circuit', async () => {
    const f = zkFixture('multiplier', 'groth16');
    const { circuit, already_existed } = await sut.register(
      {
        name: 'multiplier',
        protocol: 'groth16',
        verification_key: f.vkey,
        wasm: f.wasm.toString('base64'),
        zkey: f.zkey.toString('base64'),
      },
      null,
    );
    expect(already_existed).toBe(false);
    expect(circuit).toMatchObject({
      circuit_id: referenceCircuitId(f.vkey),
      protocol: 'groth16',
      curve: 'bn128',
      n_public: 2,
      verification_key: f.vkey,
      wasm_sha256: createHash('sha256').update(f.wasm).digest('hex'),
      wasm_size: f.wasm.length,
      zkey_sha256: createHash('sha256').update(f.zkey).digest('hex'),
      zkey_size: f.zkey.length,
    });
    const ds = app.get(DataSource);
    const root = storeDirectory(ds, env.config, CIRCUIT_BLOBS);
    expect(root.startsWith(env.dataDir)).toBe(true);
    for (const [id, bytes] of [
      [circuit.wasm_sha256!, f.wasm],
      [circuit.zkey_sha256!, f.zkey],
    ] as const) {
      expect((await storedBytes(ds, env.config, CIRCUIT_BLOBS, id))?.equals(bytes)).toBe(true);
      expect(readFileSync(storedFile(ds, env.config, CIRCUIT_BLOBS, id)).equals(bytes)).toBe(true);
    }
    const leftovers = readdirSync(root, { recursive: true }).filter((p) => String(p).endsWith('.tmp'));
    expect(leftovers).toEqual([]);

    const user = await createUser(ds, `u${Date.now()}`);
    const result = await app.get(ProofVerificationService).verify(
      parseVerifyRequest({
        circuit_id: circuit.circuit_id,
        proof: f.proof,
        public_signals: f.publicSignals,
      }),
      user,
    );
    expect(result.valid).toBe(true);
    const [row] = await ds.query(`SELECT verified, circuit_id FROM proof_artifacts WHERE proof_id = $1`, [
      result.proof_id,
    ]);
    expect(row).toEqual({ verified: true, circuit_id: circuit.circuit_id });
  });

  it('re-registering the same key (any key order, any name) returns the same id, flagged as existing', async () => {
    const f = zkFixture('multiplier', 'plonk');
    const first = await sut.register(
      { name: 'multiplier plonk', protocol: 'plonk', verification_key: f.vkey },
      null,
    );
    const circuits = await circuitCount();
    const reordered = Object.fromEntries(Object.entries(f.vkey).reverse());
    const again = await sut.register(
      { name: 'other name', protocol: 'plonk', verification_key: reordered },
      null,
    );
    expect(again.already_existed).toBe(true);
    expect(again.circuit.circuit_id).toBe(referenceCircuitId(f.vkey));
    expect(again.circuit).toEqual(first.circuit); // the first name stays
    expect(await circuitCount()).toBe(circuits);
  });

  it('refuses keys that are not bn128, not the declared protocol, or carry extra fields', async () => {
    const circuits = await circuitCount();
    const groth = zkFixture('multiplier', 'groth16').vkey;
    const plonk = zkFixture('multiplier', 'plonk').vkey;
    const reg = (protocol: unknown, verification_key: unknown) =>
      sut.register({ name: 'x', protocol, verification_key }, null);
    await expect422(reg('plonk', groth), 'verification_key.protocol');
    await expect422(reg('groth16', plonk), 'verification_key.protocol');
    await expect422(reg('groth16', { ...groth, curve: 'bls12381' }), 'verification_key.curve');
    await expect422(reg('groth16', { ...groth, note: 'hi' }), 'verification_key.note');
    await expect422(
      reg('groth16', { ...groth, IC: (groth.IC as unknown[]).slice(1) }),
      'verification_key.IC',
    );
    await expect422(reg('groth16', { ...groth, nPublic: 0 }), 'verification_key.nPublic');
    await expect422(reg('snark', groth), 'protocol');
    await expect422(sut.register({ name: '', protocol: 'groth16', verification_key: groth }, null), 'name');
    expect(await circuitCount()).toBe(circuits);
  });

  it('refuses uploads over the cap (before decoding), non-base64 and wrong file types', async () => {
    const circuits = await circuitCount();
    const f = zkFixture('poseidon_preimage', 'plonk');
    const reg = (extra: Record<string, unknown>) =>
      sut.register({ name: 'p', protocol: 'plonk', verification_key: f.vkey, ...extra }, null);
    await expect422(reg({ wasm: f.wasm.toString('base64') }), 'wasm'); // 1.6 MB > the 64 KiB cap set above
    await expect422(reg({ wasm: '***' }), 'wasm');
    await expect422(reg({ zkey: f.wasm.subarray(0, 1000).toString('base64') }), 'zkey');
    await expect422(reg({ wasm: Buffer.from('not wasm').toString('base64') }), 'wasm');
    expect(await circuitCount()).toBe(circuits);
  });

  it("refuses another circuit's witness generator beside the zkey (422 wasm), which no task could ever use", async () => {
    const circuits = await circuitCount();
    const poseidon = zkFixture('poseidon_preimage', 'groth16');
    // Poseidon's key and zkey with the multiplier's wasm: every zk_proof task on it would fail, for good.
    const mixed = sut.register(
      {
        name: 'mixed',
        protocol: 'groth16',
        verification_key: poseidon.vkey,
        wasm: zkFixture('multiplier', 'groth16').wasm.toString('base64'),
        zkey: poseidon.zkey.toString('base64'),
      },
      null,
    );
    await expect(mixed).rejects.toMatchObject({
      extra: {
        details: [
          {
            field: 'wasm',
            message:
              "makes a witness of 4 values, and the zkey expects 417: it is another circuit's witness generator",
          },
        ],
      },
    });
    expect(await circuitCount()).toBe(circuits);
    // The multiplier's own (the control): taken.
    const f = zkFixture('multiplier', 'plonk');
    const own = await sut.register(
      {
        name: 'own',
        protocol: 'plonk',
        verification_key: f.vkey,
        wasm: f.wasm.toString('base64'),
        zkey: f.zkey.toString('base64'),
      },
      null,
    );
    expect(own.circuit.circuit_id).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the database refuses a circuit row whose id is not the hash of its stored key', async () => {
    const ds = app.get(DataSource);
    await expect(
      ds.query(
        `INSERT INTO circuits (circuit_id, name, protocol, curve, n_public, verification_key)
         VALUES ($1, 'forged', 'groth16', 'bn128', 1, '{}')`,
        ['0'.repeat(64)],
      ),
    ).rejects.toThrow(/circuits_circuit_id_is_vkey_hash/);
  });

  it('acceptance 6: the id is stable across a restart and equals SHA-256 of the canonical key', async () => {
    const f = zkFixture('multiplier', 'fflonk');
    const id = referenceCircuitId(f.vkey);
    const before = await sut.register(
      { name: 'fflonk', protocol: 'fflonk', verification_key: f.vkey, wasm: f.wasm.toString('base64') },
      null,
    );
    expect(before.circuit.circuit_id).toBe(id);
    await app.close();
    app = await bootProofs(env.config);
    registry = app.get(CircuitRegistryService);
    const reloaded = await sut.get(id);
    expect(reloaded.circuit_id).toBe(id);
    expect(reloaded.verification_key).toEqual(f.vkey);
    const again = await sut.register({ name: 'm', protocol: 'fflonk', verification_key: f.vkey }, null);
    expect(again).toMatchObject({ already_existed: true, circuit: { circuit_id: id } });
    const stored = await storedBytes(app.get(DataSource), env.config, CIRCUIT_BLOBS, reloaded.wasm_sha256!);
    expect(stored?.equals(f.wasm)).toBe(true);
  });
});
