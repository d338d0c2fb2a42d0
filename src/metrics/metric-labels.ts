/**
 * The closed label sets of the service's metrics (VcpMetrics): label values come from these, never from a
 * request, so the number of series is bounded whatever clients send, and each set starts at 0.
 */

/** `auth_events_total{event}`. */
export const AUTH_EVENTS = [
  'login_success',
  'login_failure',
  'register',
  'refresh',
  'refresh_failure',
  'refresh_reuse_detected',
  'api_key_failure',
  'access_token_failure',
  'password_change',
  'password_change_failure',
] as const;
export type AuthEvent = (typeof AUTH_EVENTS)[number];

/** The node statuses the `vcp_nodes` gauge reports (the nodes table's CHECK constraint). */
export const NODE_STATUS_LABELS = ['online', 'offline', 'busy', 'draining', 'suspended', 'rejected'] as const;

/** What one claim statement did: leased runs, found none, or answered a repeat with the runs it had leased. */
export const CLAIM_RESULTS = ['leased', 'empty', 'replayed'] as const;
export type ClaimResult = (typeof CLAIM_RESULTS)[number];

/** Why a lease ended without a result (`vcp_task_leases_expired_total{cause}`). */
export const LEASE_LOSS_CAUSES = [
  'lease_expired',
  'node_deleted',
  'node_rejected',
  'node_offline',
  'node_quarantined',
] as const;
export type LeaseLossCause = (typeof LEASE_LOSS_CAUSES)[number];

/** How a run compared with its task's accepted output (`vcp_runs_verified_total{verdict}`). */
export const RUN_VERDICTS = ['valid', 'invalid'] as const;
export type RunVerdict = (typeof RUN_VERDICTS)[number];

/** The tables the retention sweep prunes (`vcp_retention_rows_pruned_total{table}`). */
export const RETENTION_TABLES = ['task_idempotency_keys', 'refresh_tokens', 'audit_log'] as const;
export type RetentionTable = (typeof RETENTION_TABLES)[number];
