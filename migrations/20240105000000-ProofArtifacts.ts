import { MigrationInterface, QueryRunner } from 'typeorm';

/** Proofs submitted for tasks and the outcome of verifying them. */
export class ProofArtifacts20240105000000 implements MigrationInterface {
  name = 'ProofArtifacts20240105000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE proof_artifacts (
        proof_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        task_id uuid REFERENCES tasks (task_id) ON DELETE CASCADE,
        run_id uuid REFERENCES task_runs (run_id) ON DELETE CASCADE,
        proof_data bytea NOT NULL,
        public_inputs bytea NOT NULL,
        circuit_id varchar(64) NOT NULL,
        proof_system varchar(32) NOT NULL DEFAULT 'groth16',
        verified boolean NOT NULL DEFAULT false,
        verification_time_ms bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        verified_at timestamptz,
        CONSTRAINT proof_artifacts_proof_system_check CHECK (proof_system IN ('groth16', 'plonk')),
        CONSTRAINT proof_artifacts_verified_at_check CHECK (NOT verified OR verified_at IS NOT NULL)
      )`);
    await q.query(`CREATE INDEX idx_proof_artifacts_task_id ON proof_artifacts (task_id)`);
    await q.query(`CREATE INDEX idx_proof_artifacts_run_id ON proof_artifacts (run_id)`);
    await q.query(`CREATE INDEX idx_proof_artifacts_circuit_id ON proof_artifacts (circuit_id)`);
    await q.query(`CREATE INDEX idx_proof_artifacts_created_at ON proof_artifacts (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE proof_artifacts`);
  }
}
