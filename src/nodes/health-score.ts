/**
 * A node's health score, 0–100, from its capabilities, its latest telemetry and its record. The weights are the
 * original node crate's: bandwidth 0.4, latency 0.3, spare compute 0.2, reliability 0.1. Each part is a
 * fraction from 0 to 1; a part the node has not reported yet counts as NEUTRAL (0.5), so a node is neither
 * favoured nor punished for what nobody knows, and a node with no telemetry at all scores exactly 50 (not the
 * original's constant 100).
 *
 *   bandwidth   = min(bandwidth_mbps / 100, 1)            full marks from 100 Mbps
 *   latency     = 1 − min(network_latency_ms / 500, 1)      0 ms → 1, 500 ms or more → 0
 *   spare       = 1 − (cpu_usage + memory_usage) / 200      mean idle share of CPU and memory
 *   reliability = the node's reputation (nodes/reputation.ts: Wilson lower bound of valid over compared runs;
 *                 NEUTRAL until a run of it was compared)
 *   score       = round(100 × (0.4·bandwidth + 0.3·latency + 0.2·spare + 0.1·reliability), 2)
 *
 * Heartbeats are scored in SQL by healthScoreSql (heartbeats.repository.ts), from the node's stored telemetry;
 * test/integration/nodes/health-score-sql.spec.ts holds the two to the same numbers.
 */
export const HEALTH_WEIGHTS = { bandwidth: 0.4, latency: 0.3, spareCompute: 0.2, reliability: 0.1 } as const;
export const NEUTRAL = 0.5;
export const NEUTRAL_SCORE = 50;
/** Online and at least this score: counted as healthy by the cluster stats. */
export const HEALTHY_SCORE = 70;
export const FULL_BANDWIDTH_MBPS = 100;
export const WORST_LATENCY_MS = 500;

export interface HealthInputs {
  bandwidthMbps: number;
  cpuUsage?: number | null;
  memoryUsage?: number | null;
  networkLatencyMs?: number | null;
  /** 0–1; null until task outcomes feed it. */
  reliability?: number | null;
}

const clamp01 = (value: number) => Math.min(1, Math.max(0, value));
const known = (value: number | null | undefined): value is number =>
  typeof value === 'number' && Number.isFinite(value);

export function healthScore(inputs: HealthInputs): number {
  const telemetry = [inputs.cpuUsage, inputs.memoryUsage, inputs.networkLatencyMs].some(known);
  if (!telemetry) return NEUTRAL_SCORE;
  const bandwidth = clamp01(inputs.bandwidthMbps / FULL_BANDWIDTH_MBPS);
  const latency = known(inputs.networkLatencyMs)
    ? 1 - clamp01(inputs.networkLatencyMs / WORST_LATENCY_MS)
    : NEUTRAL;
  const usages = [inputs.cpuUsage, inputs.memoryUsage].filter(known);
  const spare = usages.length
    ? 1 - clamp01(usages.reduce((sum, usage) => sum + usage, 0) / (100 * usages.length))
    : NEUTRAL;
  const reliability = known(inputs.reliability) ? clamp01(inputs.reliability) : NEUTRAL;
  const score =
    HEALTH_WEIGHTS.bandwidth * bandwidth +
    HEALTH_WEIGHTS.latency * latency +
    HEALTH_WEIGHTS.spareCompute * spare +
    HEALTH_WEIGHTS.reliability * reliability;
  return Math.round(score * 10_000) / 100;
}
