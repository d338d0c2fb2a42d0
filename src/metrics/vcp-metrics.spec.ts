import { Registry } from 'prom-client';
import { VcpMetrics } from './vcp-metrics';

describe('VcpMetrics', () => {
  it('says in HELP that the cluster-wide gauges are aggregated with max(), and only those', async () => {
    const registry = new Registry();
    new VcpMetrics(registry);
    const text = await registry.metrics();
    const help = new Map(
      text
        .split('\n')
        .filter((line) => line.startsWith('# HELP '))
        .map((line) => {
          const [name, ...rest] = line.slice('# HELP '.length).split(' ');
          return [name, rest.join(' ')] as const;
        }),
    );
    const clusterWide = [...help].filter(([, text]) => text.includes('cluster-wide')).map(([name]) => name);
    expect(clusterWide.sort()).toEqual([
      'vcp_control_plane_last_outage_seconds',
      'vcp_control_plane_outages_credited_total',
      'vcp_nodes',
      'vcp_task_leases_credited_total',
      'vcp_tasks_queued',
      'vcp_tasks_queued_oldest_age_seconds',
    ]);
    for (const name of clusterWide) expect(help.get(name)).toMatch(/aggregate with max\(\), not sum\(\)/);
  });

  it('has WASM and proof duration buckets up to the largest time limit their variables allow', () => {
    const registry = new Registry();
    new VcpMetrics(registry);
    const largestBound = (name: string) => {
      const histogram = registry.getSingleMetric(name) as unknown as { upperBounds: number[] };
      return Math.max(...histogram.upperBounds);
    };
    expect(largestBound('wasm_execution_duration_seconds')).toBeGreaterThanOrEqual(3600); // WASM_TIMEOUT_SECS
    expect(largestBound('proof_verification_duration_seconds')).toBeGreaterThanOrEqual(600); // PROOF_VERIFY_TIMEOUT_MS / 1000
  });
});
