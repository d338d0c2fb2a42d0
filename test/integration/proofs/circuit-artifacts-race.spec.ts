import { createHash } from 'node:crypto';
import { toCircuitRegistration } from '../../../src/proofs/circuit-registration.pipe';
import { CircuitRegistryService } from '../../../src/proofs/circuit-registry.service';
import { DatabaseSession } from '../../../src/database/transaction-runner';
import { ContentStore } from '../../../src/storage/content-store';
import { createTestEnv, describeEachDatabase, TestEnv } from '../../support/databases';
import { bootProofs, zkFixture } from '../../support/zk';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * A registration stores its files before its transaction; a circuit deletion that shared one of them may
 * commit in between and delete it (it saw no other circuit using it). The registration's transaction, under
 * the same lock as deletions, finds the file gone and stores it again.
 */
describeEachDatabase(
  'a circuit file deleted between a registration’s write and its transaction, on %s',
  (database) => {
    let env: TestEnv;
    let app: Awaited<ReturnType<typeof bootProofs>>;

    beforeAll(async () => {
      env = await createTestEnv(database, { PROOF_WORKERS: '1' });
      app = await bootProofs(env.config);
    });
    afterAll(async () => {
      await app?.close();
      await env?.dispose();
    });

    it('is stored again, so the new circuit serves it', async () => {
      const f = zkFixture('multiplier', 'plonk');
      const blobs = app.get(ContentStore);
      const put = blobs.put.bind(blobs);
      // The concurrent delete, committed right after the registration's write.
      const spy = jest.spyOn(blobs, 'put').mockImplementationOnce(async (bytes) => {
        const sha = await put(bytes);
        await blobs.delete(sha);
        return sha;
      });
      const registration = toCircuitRegistration(
        { name: 'multiplier', protocol: 'plonk', verification_key: f.vkey, wasm: f.wasm.toString('base64') },
        env.config.proofs,
      );
      const registry = app.get(CircuitRegistryService);
      const { circuit } = await registry.register(registration, null);

      expect(spy).toHaveBeenCalledTimes(2);
      expect(circuit.wasm_sha256).toBe(sha256(f.wasm));
      expect(sha256(await registry.artifact(circuit.circuit_id, 'wasm'))).toBe(sha256(f.wasm));
    });

    it('reads no stored file inside its transaction, under the lock every registration and deletion takes', async () => {
      const f = zkFixture('multiplier', 'groth16');
      const blobs = app.get(ContentStore);
      const session = app.get(DatabaseSession);
      const open = blobs.open.bind(blobs);
      const openedInTransaction: boolean[] = [];
      jest.spyOn(blobs, 'open').mockImplementation((id) => {
        openedInTransaction.push(session.inTransaction);
        return open(id);
      });
      const registration = toCircuitRegistration(
        {
          name: 'multiplier',
          protocol: 'groth16',
          verification_key: f.vkey,
          wasm: f.wasm.toString('base64'),
          zkey: f.zkey.toString('base64'),
        },
        env.config.proofs,
      );
      const { circuit } = await app.get(CircuitRegistryService).register(registration, null);

      expect(circuit.zkey_sha256).toBe(sha256(f.zkey));
      expect(openedInTransaction).not.toContain(true);
    });
  },
);
