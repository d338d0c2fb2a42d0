import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The circuit registry. A circuit is pinned by its verification key: circuit_id is the SHA-256 of the key's
 * canonical JSON (sorted keys, no whitespace), stored as that exact text, and the database itself checks the
 * relation, so no row can claim an id its key does not hash to. Proof artifacts gain fflonk, the verifier's
 * message and who submitted them; a proof's bytes are deliberately not unique (Groth16 proofs are malleable).
 */
export class Circuits20261128100100 implements MigrationInterface {
  name = 'Circuits20261128100100';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE circuits (
        circuit_id varchar(64) PRIMARY KEY,
        name varchar(128) NOT NULL,
        protocol varchar(16) NOT NULL,
        curve varchar(16) NOT NULL,
        n_public integer NOT NULL,
        verification_key text NOT NULL,
        wasm_sha256 varchar(64),
        wasm_size bigint,
        zkey_sha256 varchar(64),
        zkey_size bigint,
        created_by uuid REFERENCES users (user_id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT circuits_circuit_id_is_vkey_hash
          CHECK (circuit_id = encode(sha256(convert_to(verification_key, 'UTF8')), 'hex')),
        CONSTRAINT circuits_protocol_check CHECK (protocol IN ('groth16', 'plonk', 'fflonk')),
        CONSTRAINT circuits_curve_check CHECK (curve = 'bn128'),
        CONSTRAINT circuits_n_public_check CHECK (n_public BETWEEN 1 AND 10000),
        CONSTRAINT circuits_name_length_check CHECK (char_length(name) BETWEEN 1 AND 128),
        CONSTRAINT circuits_wasm_check CHECK (
          (wasm_sha256 IS NULL AND wasm_size IS NULL) OR (wasm_sha256 ~ '^[0-9a-f]{64}$' AND wasm_size > 0)),
        CONSTRAINT circuits_zkey_check CHECK (
          (zkey_sha256 IS NULL AND zkey_size IS NULL) OR (zkey_sha256 ~ '^[0-9a-f]{64}$' AND zkey_size > 0))
      )`);
    await q.query(`CREATE INDEX idx_circuits_created_at ON circuits (created_at)`);

    await q.query(`ALTER TABLE proof_artifacts DROP CONSTRAINT proof_artifacts_proof_system_check`);
    await q.query(
      `ALTER TABLE proof_artifacts ADD CONSTRAINT proof_artifacts_proof_system_check
         CHECK (proof_system IN ('groth16', 'plonk', 'fflonk'))`,
    );
    await q.query(`ALTER TABLE proof_artifacts ADD COLUMN error_message text`);
    await q.query(
      `ALTER TABLE proof_artifacts ADD COLUMN submitted_by uuid REFERENCES users (user_id) ON DELETE SET NULL`,
    );
    await q.query(`CREATE INDEX idx_proof_artifacts_submitted_by ON proof_artifacts (submitted_by)`);
    // NOT VALID: rows from before the registry may name circuits it never held; every new row is checked.
    await q.query(
      `ALTER TABLE proof_artifacts ADD CONSTRAINT proof_artifacts_circuit_id_fkey
         FOREIGN KEY (circuit_id) REFERENCES circuits (circuit_id) NOT VALID`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE proof_artifacts DROP CONSTRAINT proof_artifacts_circuit_id_fkey`);
    await q.query(`DROP INDEX idx_proof_artifacts_submitted_by`);
    await q.query(`ALTER TABLE proof_artifacts DROP COLUMN submitted_by`);
    await q.query(`ALTER TABLE proof_artifacts DROP COLUMN error_message`);
    // fflonk rows cannot satisfy the old constraint; the down refuses rather than delete evidence.
    await q.query(`ALTER TABLE proof_artifacts DROP CONSTRAINT proof_artifacts_proof_system_check`);
    await q.query(
      `ALTER TABLE proof_artifacts ADD CONSTRAINT proof_artifacts_proof_system_check
         CHECK (proof_system IN ('groth16', 'plonk'))`,
    );
    await q.query(`DROP TABLE circuits`);
  }
}
