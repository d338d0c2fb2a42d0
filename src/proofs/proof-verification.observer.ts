import { Injectable, Optional } from '@nestjs/common';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { ProofSystem } from './proof-system';

export interface ProofVerificationEvent {
  circuitId: string;
  protocol: ProofSystem;
  outcome: 'valid' | 'invalid' | 'failed' | 'timeout';
  durationSeconds: number;
}

/** Called once per verification that ran on a thread (stored, or a timeout, which is not stored). An abstract class is the DI token, so no string token is needed. */
export abstract class ProofVerificationObserver {
  abstract observe(event: ProofVerificationEvent): void;
}

/**
 * Feeds `proof_verification_duration_seconds{protocol, valid}`: valid is "true" or "false" for a verdict and
 * "error" when none was reached (worker failure, timeout). Without the metrics module (the service-level
 * tests and the proof bench compose ProofsModule alone) nothing is recorded.
 */
@Injectable()
export class MetricsProofVerificationObserver extends ProofVerificationObserver {
  constructor(@Optional() private readonly metrics?: VcpMetrics) {
    super();
  }

  observe(event: ProofVerificationEvent): void {
    const valid = event.outcome === 'valid' ? 'true' : event.outcome === 'invalid' ? 'false' : 'error';
    this.metrics?.observeProofVerification(event.protocol, valid, event.durationSeconds);
  }
}
