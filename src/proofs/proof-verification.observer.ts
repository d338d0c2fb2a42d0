import { Injectable } from '@nestjs/common';
import { ProofSystem } from './proof-system';

export interface ProofVerificationEvent {
  circuitId: string;
  protocol: ProofSystem;
  outcome: 'valid' | 'invalid' | 'failed' | 'timeout';
  durationSeconds: number;
}

/**
 * Hook point for metrics: called once per stored verification. The metrics module will provide an
 * implementation that feeds the `proof_verification_duration_seconds` histogram (labels: protocol, outcome);
 * until then the no-op below is bound. An abstract class is the DI token, so no string token is needed.
 */
export abstract class ProofVerificationObserver {
  abstract observe(event: ProofVerificationEvent): void;
}

@Injectable()
export class NoopProofVerificationObserver extends ProofVerificationObserver {
  observe(): void {
    // Deliberately empty until the metrics module exists.
  }
}
