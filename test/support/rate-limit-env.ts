/** Small, distinct limits per tier, so a test can tell which tier (and which multiplier) applied. */
export const UNIT_RATE_LIMITS: Record<string, string> = {
  RATE_LIMIT_AUTH_RPM: '10',
  RATE_LIMIT_AUTH_BURST: '3',
  RATE_LIMIT_NODE_RPM: '20',
  RATE_LIMIT_NODE_BURST: '5',
  RATE_LIMIT_AGENT_RPM: '40',
  RATE_LIMIT_AGENT_BURST: '7',
  RATE_LIMIT_TASK_RPM: '30',
  RATE_LIMIT_TASK_BURST: '6',
  RATE_LIMIT_PROOF_RPM: '15',
  RATE_LIMIT_PROOF_BURST: '2',
  RATE_LIMIT_GENERAL_RPM: '60',
  RATE_LIMIT_GENERAL_BURST: '4',
};
