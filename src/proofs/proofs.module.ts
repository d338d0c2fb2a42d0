import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { CircuitBlobStore } from './circuit-blob.store';
import { CircuitRegistryService } from './circuit-registry.service';
import { CircuitRepository } from './circuit.repository';
import { ProofArtifactRepository } from './proof-artifact.repository';
import { NoopProofVerificationObserver, ProofVerificationObserver } from './proof-verification.observer';
import { ProofVerificationService } from './proof-verification.service';
import { VerifierPool } from './verifier-pool';

/**
 * Circuit registry and proof verification (issue 8), beneath the HTTP layer: the admin and verify routes
 * arrive with the identity layer and call these services. The pool's threads end on application shutdown.
 */
@Module({
  providers: [
    CircuitRepository,
    CircuitBlobStore,
    CircuitRegistryService,
    ProofArtifactRepository,
    ProofVerificationService,
    { provide: ProofVerificationObserver, useClass: NoopProofVerificationObserver },
    {
      provide: VerifierPool,
      inject: [AppConfig],
      useFactory: (config: AppConfig) =>
        new VerifierPool({ workers: config.proofs.workers, timeoutMs: config.proofs.verifyTimeoutMs }),
    },
  ],
  exports: [CircuitRegistryService, ProofVerificationService, VerifierPool],
})
export class ProofsModule {}
