import { Registry } from 'prom-client';
import { VcpMetrics } from '../metrics/vcp-metrics';
import type { ConfigContext } from '../common/config/feature-config';
import { proofsConfig } from './proofs.config';
import { MetricsProofVerificationObserver, ProofVerificationEvent } from './proof-verification.observer';

describe('MetricsProofVerificationObserver', () => {
  const setup = () => {
    const registry = new Registry();
    const observer = new MetricsProofVerificationObserver(new VcpMetrics(registry));
    const observe = (outcome: ProofVerificationEvent['outcome'], durationSeconds: number) =>
      observer.observe({ circuitId: 'c', protocol: 'groth16', outcome, durationSeconds });
    const buckets = async (valid: string) => {
      const metric = await registry.getSingleMetric('proof_verification_duration_seconds')!.get();
      return new Map(
        metric.values
          // groth16's: every protocol's series exist from the start (at 0).
          .filter(
            (v) => v.labels.le !== undefined && v.labels.valid === valid && v.labels.protocol === 'groth16',
          )
          .map((v) => [v.labels.le, v.value]),
      );
    };
    return { observe, buckets };
  };
  /** What a verification gets without PROOF_VERIFY_TIMEOUT_MS. */
  const defaultTimeoutSeconds =
    proofsConfig.build({}, { core: { dataDir: '/data' }, cwd: '/' } as unknown as ConfigContext)
      .verifyTimeoutMs / 1000;

  it('labels a timeout "timeout", apart from a verifier failure ("error") and from the verdicts', async () => {
    const { observe, buckets } = setup();
    observe('valid', 0.02);
    observe('invalid', 0.02);
    observe('failed', 0.02);
    observe('timeout', 0.02);
    for (const valid of ['true', 'false', 'error', 'timeout'])
      expect((await buckets(valid)).get('+Inf')).toBe(1);
  });

  it('puts a timeout at the default budget in a finite bucket above the slowest verdict before it', async () => {
    const { observe, buckets } = setup();
    observe('valid', defaultTimeoutSeconds * 0.99);
    observe('timeout', defaultTimeoutSeconds * 1.001);
    const slow = await buckets('true');
    const timedOut = await buckets('timeout');
    const finite = [...slow.keys()].filter((le) => le !== '+Inf').map(Number);
    const firstHolding = (counts: Map<string | number | undefined, number>) =>
      finite.find((le) => counts.get(le) === 1);
    expect(firstHolding(slow)).toBe(defaultTimeoutSeconds);
    expect(firstHolding(timedOut)).toBeGreaterThan(defaultTimeoutSeconds);
    // The largest budget the configuration accepts still ends in a finite bucket.
    expect(Math.max(...finite)).toBeGreaterThanOrEqual(600);
  });
});
