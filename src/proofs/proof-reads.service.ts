import { Injectable } from '@nestjs/common';
import type { Principal } from '../common/auth/principal';
import { AppException } from '../common/errors/app.exception';
import { StoredProofDto, toStoredProofDto } from './dto/stored-proof.dto';
import { ProofArtifactRepository } from './proof-artifact.repository';

export const PROOF_NOT_FOUND = 'Proof not found';

/** Reading stored verifications back: `proof_id` from a verification or a completed zk_proof task. */
@Injectable()
export class ProofReadsService {
  constructor(private readonly proofs: ProofArtifactRepository) {}

  /** Another user's proof and a missing one look the same: 404, so proof ids reveal nothing. */
  async get(principal: Principal, proofId: string): Promise<StoredProofDto> {
    const viewer = principal.role === 'admin' ? null : principal.userId;
    const proof = await this.proofs.findVisible(proofId, viewer);
    if (!proof) throw AppException.notFound(PROOF_NOT_FOUND);
    return toStoredProofDto(proof);
  }
}
