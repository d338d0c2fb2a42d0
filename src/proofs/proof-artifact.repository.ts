import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DatabaseSession } from '../database/transaction-runner';
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

const COLUMNS = `proof_id, task_id, run_id, proof_data, public_inputs, circuit_id, proof_system, verified,
  verification_time_ms, verified_at, error_message, submitted_by`;
const PLACEHOLDERS = Array.from({ length: 12 }, (_, i) => `$${i + 1}`).join(', ');

const valuesOf = (proofId: string, artifact: NewProofArtifact) => [
  proofId,
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
];

/**
 * proof_artifacts, in plain SQL. Every verification is a new row keyed by a random proof_id. Groth16 proofs are
 * malleable (anyone can re-randomise a valid proof into other valid bytes), so no uniqueness, lookup or
 * deduplication here may ever rest on the proof bytes.
 */
@Injectable()
export class ProofArtifactRepository {
  constructor(private readonly db: DatabaseSession) {}

  /**
   * One INSERT, nothing read back: the proof_id is a random UUID (v4, from the CSPRNG, as the column's
   * gen_random_uuid() default would be) made here, and verified_at is the caller's own value. Resolves once
   * the row is committed.
   */
  async insert(artifact: NewProofArtifact): Promise<string> {
    const proofId = randomUUID();
    await this.db.execute(
      `INSERT INTO proof_artifacts (${COLUMNS}) VALUES (${PLACEHOLDERS})`,
      valuesOf(proofId, artifact),
    );
    return proofId;
  }

  /**
   * `insert`, but only if the proof's circuit exists and is not retired, judged by the same statement (null
   * otherwise). FOR SHARE waits for a retirement or deletion in progress and re-reads the row it committed (a
   * plain read would see the row as it was, and store a proof after the circuit was answered retired); once
   * held, it keeps a deletion from starting until the proof is stored, so the foreign key cannot fail.
   */
  async insertForActiveCircuit(artifact: NewProofArtifact): Promise<string | null> {
    const proofId = randomUUID();
    // The parameters are cast: in a SELECT list PostgreSQL cannot infer their types from the columns.
    const { affected } = await this.db.execute(
      `INSERT INTO proof_artifacts (${COLUMNS})
       SELECT $1::uuid, $2::uuid, $3::uuid, $4::bytea, $5::bytea, $6::varchar, $7::varchar, $8::boolean,
              $9::bigint, $10::timestamptz, $11::text, $12::uuid
         FROM circuits WHERE circuit_id = $6 AND retired_at IS NULL FOR SHARE`,
      valuesOf(proofId, artifact),
    );
    return affected > 0 ? proofId : null;
  }

  /**
   * A stored verification, if `viewerId` may read it (null: an admin, who may read any): the user who submitted
   * it (for a task's proof, the owner of the node that made it), or the creator of the task it is bound to while
   * that task is not deleted.
   */
  async findVisible(proofId: string, viewerId: string | null): Promise<StoredProof | null> {
    const [row] = await this.db.query<StoredProofRow>(
      `SELECT p.proof_id, p.circuit_id, p.proof_system, p.verified, p.task_id, p.run_id, p.verified_at,
              p.verification_time_ms, p.error_message, p.proof_data, p.public_inputs
         FROM proof_artifacts p
         LEFT JOIN tasks t ON t.task_id = p.task_id AND t.deleted_at IS NULL
        WHERE p.proof_id = $1 AND ($2::uuid IS NULL OR p.submitted_by = $2::uuid OR t.creator_id = $2::uuid)`,
      [proofId, viewerId],
    );
    return row ? toStoredProof(row) : null;
  }

  /** The task's creator, type and circuit; null when there is no such task. */
  async taskOwner(taskId: string): Promise<ProofTaskOwner | null> {
    const rows = await this.db.query<{ creator_id: string; task_type: string; circuit_id: string | null }>(
      `SELECT creator_id, task_type, circuit_id FROM tasks WHERE task_id = $1`,
      [taskId],
    );
    return rows[0] ? toOwner(taskId, rows[0]) : null;
  }

  /** The task a run belongs to, with that task's creator, type and circuit, in one query; null: no such run. */
  async runOwner(runId: string): Promise<ProofTaskOwner | null> {
    const rows = await this.db.query<{
      task_id: string;
      creator_id: string;
      task_type: string;
      circuit_id: string | null;
    }>(
      `SELECT r.task_id, t.creator_id, t.task_type, t.circuit_id FROM task_runs r
         JOIN tasks t ON t.task_id = r.task_id
        WHERE r.run_id = $1`,
      [runId],
    );
    return rows[0] ? toOwner(rows[0].task_id, rows[0]) : null;
  }
}

/** What binding a proof to a task needs to know of the task. */
export interface ProofTaskOwner {
  taskId: string;
  creatorId: string;
  taskType: string;
  circuitId: string | null;
}

const toOwner = (
  taskId: string,
  row: { creator_id: string; task_type: string; circuit_id: string | null },
): ProofTaskOwner => ({
  taskId,
  creatorId: row.creator_id,
  taskType: row.task_type,
  circuitId: row.circuit_id,
});

interface StoredProofRow {
  proof_id: string;
  circuit_id: string;
  proof_system: ProofSystem;
  verified: boolean;
  task_id: string | null;
  run_id: string | null;
  verified_at: Date | null;
  verification_time_ms: string | null;
  error_message: string | null;
  proof_data: Uint8Array;
  public_inputs: Uint8Array;
}

/** A verification as stored: the proof and signals are the canonical JSON the verifier checked. */
export interface StoredProof {
  proofId: string;
  circuitId: string;
  proofSystem: ProofSystem;
  valid: boolean;
  taskId: string | null;
  runId: string | null;
  verifiedAt: Date | null;
  verificationTimeMs: number | null;
  errorMessage: string | null;
  proof: unknown;
  publicSignals: unknown;
}

const toStoredProof = (row: StoredProofRow): StoredProof => ({
  proofId: row.proof_id,
  circuitId: row.circuit_id,
  proofSystem: row.proof_system,
  valid: row.verified,
  taskId: row.task_id,
  runId: row.run_id,
  verifiedAt: row.verified_at,
  verificationTimeMs: row.verification_time_ms === null ? null : Number(row.verification_time_ms),
  errorMessage: row.error_message,
  proof: storedJson(row.proof_data),
  publicSignals: storedJson(row.public_inputs),
});

/** Every verification this service stores holds canonical JSON; a row from before it may not (null then). */
function storedJson(bytes: Uint8Array): unknown {
  try {
    // PGlite answers bytea as a Uint8Array, node-postgres as a Buffer.
    return JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
  } catch {
    return null;
  }
}
