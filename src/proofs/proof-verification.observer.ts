import { Injectable, Optional } from '@nestjs/common';
import { VcpMetrics } from '../metrics/vcp-metrics';
import { PROOF_SYSTEMS, ProofSystem } from './proof-system';

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

const VALID_LABEL = {
  valid: 'true',
  invalid: 'false',
  failed: 'error',
  timeout: 'timeout',
} as const satisfies Record<ProofVerificationEvent['outcome'], string>;

/**
 * Feeds `proof_verification_duration_seconds{protocol, valid}`: valid is "true" or "false" for a verdict,
 * "error" when the verifier failed and "timeout" when the run outlasted its budget (a starved machine, not a
 * slow proof: kept apart so it never reads as a slow verdict). Without the metrics module (the service-level
 * tests and the proof bench compose ProofsModule alone) nothing is recorded.
 */
@Injectable()
export class MetricsProofVerificationObserver extends ProofVerificationObserver {
  constructor(@Optional() private readonly metrics?: VcpMetrics) {
    super();
    // Every pair starts at 0 (3 protocols × 4 results), so README's alert on `valid=~"error|timeout"` sees the
    // first verifier error after a start as an increase(), not as a new series it cannot count.
    for (const protocol of PROOF_SYSTEMS) {
      for (const valid of Object.values(VALID_LABEL)) metrics?.zeroProofVerification(protocol, valid);
    }
  }

  observe(event: ProofVerificationEvent): void {
    const valid = VALID_LABEL[event.outcome];
    this.metrics?.observeProofVerification(event.protocol, valid, event.durationSeconds);
  }
}
