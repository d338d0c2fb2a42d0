import { healthScore, NEUTRAL_SCORE } from './health-score';

describe('healthScore', () => {
  it('is neutral (50), not 100, for a node that has sent no telemetry yet', () => {
    expect(healthScore({ bandwidthMbps: 10_000 })).toBe(NEUTRAL_SCORE);
    expect(healthScore({ bandwidthMbps: 0, cpuUsage: null, memoryUsage: undefined })).toBe(NEUTRAL_SCORE);
  });

  it('weights bandwidth 0.4, latency 0.3, spare compute 0.2 and a neutral reliability 0.1', () => {
    // 150 Mbps → 1; 50 ms → 0.9; cpu 20 % + memory 40 % → spare 0.7; reliability unknown → 0.5.
    const sut = healthScore({ bandwidthMbps: 150, cpuUsage: 20, memoryUsage: 40, networkLatencyMs: 50 });
    expect(sut).toBeCloseTo(100 * (0.4 * 1 + 0.3 * 0.9 + 0.2 * 0.7 + 0.1 * 0.5), 10);
    expect(sut).toBe(86);
  });

  it('scores each part on its own scale and clamps it to 0–1', () => {
    expect(healthScore({ bandwidthMbps: 50, networkLatencyMs: 0 })).toBeCloseTo(
      100 * (0.2 + 0.3 + 0.1 + 0.05),
    );
    expect(healthScore({ bandwidthMbps: 0, networkLatencyMs: 10_000, cpuUsage: 100, memoryUsage: 100 })).toBe(
      5,
    );
    expect(
      healthScore({ bandwidthMbps: 1e9, networkLatencyMs: 0, cpuUsage: 0, memoryUsage: 0, reliability: 1 }),
    ).toBe(100);
  });

  it('takes the mean of the usages it knows and a reported reliability', () => {
    expect(healthScore({ bandwidthMbps: 100, cpuUsage: 60 })).toBeCloseTo(
      100 * (0.4 + 0.15 + 0.2 * 0.4 + 0.05),
    );
    expect(healthScore({ bandwidthMbps: 100, cpuUsage: 0, reliability: 0 })).toBeCloseTo(
      100 * (0.4 + 0.15 + 0.2),
    );
  });

  it('falls as load or latency rises (monotonic)', () => {
    const at = (cpu: number, latency: number) =>
      healthScore({ bandwidthMbps: 200, cpuUsage: cpu, memoryUsage: cpu, networkLatencyMs: latency });
    expect(at(10, 20)).toBeGreaterThan(at(50, 20));
    expect(at(50, 20)).toBeGreaterThan(at(50, 200));
  });
});
