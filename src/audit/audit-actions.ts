/**
 * Every action an audit row can name. Operators filter the log by these strings (and dashboards will group by
 * them), so they are part of the contract: add new ones, never rename one.
 */
export const AuditAction = {
  AuthRegister: 'auth.register',
  AuthLogin: 'auth.login',
  AuthRefresh: 'auth.refresh',
  AuthRefreshReuseDetected: 'auth.refresh_reuse_detected',
  AuthLogout: 'auth.logout',
  AuthLogoutAll: 'auth.logout_all',
  AuthApiKeyFailed: 'auth.api_key_failed',
  AuthAdminAccessDenied: 'auth.admin_access_denied',
  ApiKeyCreated: 'api_key.created',
  ApiKeyRotated: 'api_key.rotated',
  ApiKeyRevoked: 'api_key.revoked',
  AdminBootstrap: 'admin.bootstrap',
  AdminUsersListed: 'admin.users_listed',
  AdminRoleChanged: 'admin.role_changed',
  AdminUserDisabled: 'admin.user_disabled',
  AdminUserEnabled: 'admin.user_enabled',
  AdminAuditViewed: 'admin.audit_viewed',
  AdminThrottleOverrideCreated: 'admin.throttle_override_created',
  AdminThrottleOverrideDeleted: 'admin.throttle_override_deleted',
  AdminThrottleOverridesListed: 'admin.throttle_overrides_listed',
  CircuitRegistered: 'circuit.registered',
  CircuitDeleted: 'circuit.deleted',
  CircuitRetired: 'circuit.retired',
  CircuitRestored: 'circuit.restored',
  NodeRegistered: 'node.registered',
  NodeDeleted: 'node.deleted',
  NodeRejected: 'node.rejected',
  NodeReinstated: 'node.reinstated',
  NodeKeyRotated: 'node.key_rotated',
  NodePurged: 'node.purged',
  ModuleDeleted: 'module.deleted',
  TaskSubmitted: 'task.submitted',
  TaskCancelled: 'task.cancelled',
  TaskDeleted: 'task.deleted',
  RunLeaseLost: 'run.lease_lost',
  RunSignatureInvalid: 'run.signature_invalid',
  RunInvalid: 'run.invalid',
  NodeQuarantined: 'node.quarantined',
  NodeQuarantineLifted: 'node.quarantine_lifted',
  TaskNoConsensus: 'task.no_consensus',
} as const;
export type AuditAction = (typeof AuditAction)[keyof typeof AuditAction];

export const AUDIT_ACTIONS: readonly AuditAction[] = Object.values(AuditAction);
