import { ApiProperty } from '@nestjs/swagger';
import { SHA256_HEX_PATTERN } from '../../common/validation/sha256';
import { PROOF_SYSTEMS } from '../proof-system';
import type { ProofSystem } from '../proof-system';
import type { StoredProof } from '../proof-artifact.repository';

/** `GET /proofs/:proof_id`: a stored verification, with the proof and signals it checked. */
export class StoredProofDto {
  @ApiProperty({ format: 'uuid' }) proof_id!: string;
  @ApiProperty({ pattern: SHA256_HEX_PATTERN.source }) circuit_id!: string;
  @ApiProperty({ enum: PROOF_SYSTEMS }) proof_system!: ProofSystem;
  @ApiProperty() valid!: boolean;
  @ApiProperty({
    format: 'uuid',
    nullable: true,
    type: String,
    description: 'The task it is bound to: a verification that named one, or a zk_proof task’s run result',
  })
  task_id!: string | null;
  @ApiProperty({ format: 'uuid', nullable: true, type: String }) run_id!: string | null;
  @ApiProperty({ format: 'date-time', nullable: true, type: String }) verified_at!: string | null;
  @ApiProperty({ type: 'integer', nullable: true }) verification_time_ms!: number | null;
  @ApiProperty({ nullable: true, type: String, description: 'Why the proof is not valid (null when it is)' })
  error_message!: string | null;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    nullable: true,
    description:
      'The proof as verified (its canonical JSON: keys sorted); null only for a row older than this API',
  })
  proof!: Record<string, unknown> | null;
  @ApiProperty({
    type: [String],
    nullable: true,
    description: 'The public signals it was verified against; null only for a row older than this API',
  })
  public_signals!: string[] | null;
}

export const toStoredProofDto = (proof: StoredProof): StoredProofDto => ({
  proof_id: proof.proofId,
  circuit_id: proof.circuitId,
  proof_system: proof.proofSystem,
  valid: proof.valid,
  task_id: proof.taskId,
  run_id: proof.runId,
  verified_at: proof.verifiedAt?.toISOString() ?? null,
  verification_time_ms: proof.verificationTimeMs,
  error_message: proof.errorMessage,
  proof: proof.proof as Record<string, unknown> | null,
  public_signals: proof.publicSignals as string[] | null,
});
