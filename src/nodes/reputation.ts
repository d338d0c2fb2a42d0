/**
 * A node's reputation (issue 18): the lower bound of the 95 % Wilson score interval of its valid share among
 * its compared runs (valid + invalid; runs nobody compared, errors and lost leases do not count here). A new
 * node scores 0 and earns its place: 1 valid run → 0.21, 10 → 0.72, 100 → 0.96; one lie in 10 → 0.60. It is
 * the health score's reliability term and orders waiting claims (better nodes first).
 */
const Z = 1.96;

export function reputationScore(valid: number, invalid: number): number | null {
  const n = valid + invalid;
  if (n === 0) return null;
  const p = valid / n;
  const z2 = Z * Z;
  const centre = p + z2 / (2 * n);
  const margin = Z * Math.sqrt((p * (1 - p) + z2 / (4 * n)) / n);
  return Math.max(0, Math.round(((centre - margin) / (1 + z2 / n)) * 10_000) / 10_000);
}

export interface NodeRecordOfRuns {
  runsValid: number;
  runsInvalid: number;
  runsError: number;
  runsLost: number;
  validStreak: number;
  quarantinedAt: Date | null;
  quarantineReason: string | null;
}
