import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ProofSystem } from './proof-system';

export interface NewProofArtifact {
  taskId: string | null;
  runId: string | null;
  /** Canonical JSON of the proof. Stored as evidence only: never a key (see the table's indexes). */
  proofData: Buffer;
  publicInputs: Buffer;
  circuitId: string;
  proofSystem: ProofSystem;
  verified: boolean;
  verificationTimeMs: number;
  verifiedAt: Date;
  errorMessage: string | null;
  submittedBy: string | null;
}

/**
 * proof_artifacts, in plain SQL. Every verification is a new row keyed by a random proof_id. Groth16 proofs are
 * malleable (anyone can re-randomise a valid proof into other valid bytes), so no uniqueness, lookup or
 * deduplication here may ever rest on the proof bytes.
 */
@Injectable()
export class ProofArtifactRepository {
  constructor(private readonly dataSource: DataSource) {}

  async insert(artifact: NewProofArtifact): Promise<{ proofId: string; verifiedAt: Date }> {
    const rows: { proof_id: string; verified_at: Date }[] = await this.dataSource.query(
      `INSERT INTO proof_artifacts (task_id, run_id, proof_data, public_inputs, circuit_id, proof_system,
         verified, verification_time_ms, verified_at, error_message, submitted_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       RETURNING proof_id, verified_at`,
      [
        artifact.taskId,
        artifact.runId,
        artifact.proofData,
        artifact.publicInputs,
        artifact.circuitId,
        artifact.proofSystem,
        artifact.verified,
        artifact.verificationTimeMs,
        artifact.verifiedAt,
        artifact.errorMessage,
        artifact.submittedBy,
      ],
    );
    return { proofId: rows[0].proof_id, verifiedAt: rows[0].verified_at };
  }

  /** The task's creator, or null when there is no such task. */
  async taskCreator(taskId: string): Promise<string | null> {
    const rows: { creator_id: string }[] = await this.dataSource.query(
      `SELECT creator_id FROM tasks WHERE task_id = $1`,
      [taskId],
    );
    return rows[0]?.creator_id ?? null;
  }

  /** The task a run belongs to, or null when there is no such run. */
  async runTask(runId: string): Promise<string | null> {
    const rows: { task_id: string }[] = await this.dataSource.query(
      `SELECT task_id FROM task_runs WHERE run_id = $1`,
      [runId],
    );
    return rows[0]?.task_id ?? null;
  }
}
