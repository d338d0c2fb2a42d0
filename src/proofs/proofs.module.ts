import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { AppConfig } from '../config/app-config';
import { CircuitBlobStore } from './circuit-blob.store';
import { CircuitRegistryService } from './circuit-registry.service';
import { AdminCircuitsController, CircuitsController } from './circuits.controller';
import { CircuitRepository } from './circuit.repository';
import { ProofArtifactRepository } from './proof-artifact.repository';
import { MetricsProofVerificationObserver, ProofVerificationObserver } from './proof-verification.observer';
import { ProofVerificationService } from './proof-verification.service';
import { ProofsController } from './proofs.controller';
import { VerifierPool } from './verifier-pool';

/**
 * Circuit registry and proof verification (issue 8): the admin registration route, the circuit reads and
 * `POST /proofs/verify`, over services that also run without HTTP. The pool's threads end on shutdown.
 */
@Module({
  imports: [AuditModule],
  controllers: [AdminCircuitsController, CircuitsController, ProofsController],
  providers: [
    CircuitRepository,
    CircuitBlobStore,
    CircuitRegistryService,
    ProofArtifactRepository,
    ProofVerificationService,
    { provide: ProofVerificationObserver, useClass: MetricsProofVerificationObserver },
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
