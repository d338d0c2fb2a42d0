import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { ClockModule } from '../common/clock/clock.module';
import { provideContentStore } from '../storage/content-store.provider';
import { CircuitBlobSweeper } from './circuit-blob-sweeper';
import { CircuitRegistryService } from './circuit-registry.service';
import { CircuitRemovalService } from './circuit-removal.service';
import { CircuitRestorationService } from './circuit-restoration.service';
import { AdminCircuitsController, CircuitsController } from './circuits.controller';
import { CircuitRepository } from './circuit.repository';
import { ProofArtifactRepository } from './proof-artifact.repository';
import { MetricsProofVerificationObserver, ProofVerificationObserver } from './proof-verification.observer';
import { ProofVerificationService } from './proof-verification.service';
import { ProofReadsService } from './proof-reads.service';
import { ProofsConfig } from './proofs.config';
import { ProofsController } from './proofs.controller';
import { VerifierPool } from './verifier-pool';

/**
 * Circuit registry and proof verification (issue 8): the admin registration route, the circuit reads and
 * `POST /proofs/verify`, over services that also run without HTTP. The pool's threads end on shutdown.
 */
@Module({
  imports: [AuditModule, ClockModule],
  controllers: [AdminCircuitsController, CircuitsController, ProofsController],
  providers: [
    CircuitRepository,
    // Witness generators and proving keys, at `<CIRCUIT_STORAGE_DIR>/<first two hex>/<sha256>` (the layout
    // existing data dirs hold). Nothing here reads them back, so no bytes are cached. A circuit's deletion
    // deletes the files no other circuit uses; CircuitBlobSweeper those a crashed registration left.
    provideContentStore(ProofsConfig, (config) => ({
      name: 'circuit-blobs',
      roots: [config.storageDir],
      layout: { shard: true, suffix: '' },
      maxBytes: Math.max(config.maxWasmBytes, config.maxZkeyBytes),
      verifiedCacheBytes: 0,
    })),
    CircuitBlobSweeper,
    CircuitRegistryService,
    CircuitRemovalService,
    CircuitRestorationService,
    ProofArtifactRepository,
    ProofVerificationService,
    ProofReadsService,
    { provide: ProofVerificationObserver, useClass: MetricsProofVerificationObserver },
    {
      provide: VerifierPool,
      inject: [ProofsConfig],
      useFactory: (config: ProofsConfig) =>
        new VerifierPool({
          workers: config.workers,
          timeoutMs: config.verifyTimeoutMs,
          maxQueuedPerUser: config.maxQueuedPerUser,
        }),
    },
  ],
  exports: [CircuitRegistryService, ProofVerificationService, VerifierPool],
})
export class ProofsModule {}
