import { HttpStatus } from '@nestjs/common';

/** The stable error codes of the wire format. Clients branch on these; never rename one. */
export const ErrorCode = {
  BadRequest: 'bad_request',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  NotFound: 'not_found',
  Conflict: 'conflict',
  ValidationError: 'validation_error',
  PayloadTooLarge: 'payload_too_large',
  RateLimited: 'rate_limited',
  InternalError: 'internal_error',
  ServiceUnavailable: 'service_unavailable',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Finer, stable causes that may accompany a code where one status covers several cases (body field `reason`).
 * Clients may branch on them; never rename one.
 */
export const ErrorReason = {
  /** 409 `conflict`: the change would leave no active admin. */
  LastAdmin: 'last_admin',
  /** 409 `conflict`: the run's lease is no longer this node's (stale fence, expired lease, another node). */
  LeaseLost: 'lease_lost',
  /** 422 `validation_error`: the Idempotency-Key was used before with another body. */
  IdempotencyKeyReused: 'idempotency_key_reused',
  /** 409 `conflict`: the task an Idempotency-Key created was deleted, so the first answer cannot be repeated. */
  IdempotencyKeyTaskDeleted: 'idempotency_key_task_deleted',
  /** 422 `validation_error`: a task type the API knows but no node executes yet (`federated_learning`). */
  TaskTypeNotSupported: 'task_type_not_supported',
  /** 422 `validation_error`: a run result's signature is not the node's signature of its receipt. */
  SignatureInvalid: 'signature_invalid',
  /** 403 `forbidden`: the node registered no public key, so its results cannot be verified. */
  NoPublicKey: 'no_public_key',
  /** 403 `forbidden`: the node is quarantined for invalid results; an admin can reinstate it. */
  NodeQuarantined: 'node_quarantined',
  /** 413 `payload_too_large`: the module would take the user past MODULE_STORAGE_QUOTA_BYTES (or _COUNT). */
  StorageQuotaExceeded: 'storage_quota_exceeded',
  /** 429 `rate_limited`: the user has TASK_MAX_LIVE_PER_USER pending or running tasks already. */
  LiveTaskLimit: 'live_task_limit',
  /** 409 `conflict`: the user owns NODE_MAX_PER_USER nodes already. */
  NodeLimit: 'node_limit',
  /** 409 `conflict`: the subject already has a throttle override in force (`override_id` names it). */
  ThrottleOverrideExists: 'throttle_override_exists',
  /** 409 `conflict`: only a completed task has a receipt. */
  TaskNotCompleted: 'task_not_completed',
  /** 409 `conflict`: the completed task has no signed run to vouch for its output (completed before issue 18). */
  ReceiptUnavailable: 'receipt_unavailable',
  /** 409 `conflict`: the circuit is retired; it stays readable but takes no new tasks or proofs. */
  CircuitRetired: 'circuit_retired',
  /**
   * 403 `forbidden`: a password change's `current_password` is not the account's. Not a 401: the session is
   * valid, and a client that read 401 as "logged out" would drop it.
   */
  WrongPassword: 'wrong_password',
  /** 403 `forbidden`: registration is closed (REGISTRATION=closed): an admin creates accounts. */
  RegistrationClosed: 'registration_closed',
  /** 503 `service_unavailable`: the server is draining before it stops; retry (another replica, or later). */
  ShuttingDown: 'shutting_down',
} as const;
export type ErrorReason = (typeof ErrorReason)[keyof typeof ErrorReason];

const CODE_BY_STATUS: Partial<Record<number, ErrorCode>> = {
  [HttpStatus.BAD_REQUEST]: ErrorCode.BadRequest,
  [HttpStatus.UNAUTHORIZED]: ErrorCode.Unauthorized,
  [HttpStatus.FORBIDDEN]: ErrorCode.Forbidden,
  [HttpStatus.NOT_FOUND]: ErrorCode.NotFound,
  [HttpStatus.CONFLICT]: ErrorCode.Conflict,
  [HttpStatus.UNPROCESSABLE_ENTITY]: ErrorCode.ValidationError,
  [HttpStatus.PAYLOAD_TOO_LARGE]: ErrorCode.PayloadTooLarge,
  [HttpStatus.TOO_MANY_REQUESTS]: ErrorCode.RateLimited,
  [HttpStatus.SERVICE_UNAVAILABLE]: ErrorCode.ServiceUnavailable,
};

/** Maps an HTTP status to its stable code; other 4xx fall back to bad_request, other 5xx to internal_error. */
export function errorCodeForStatus(status: number): ErrorCode {
  const code = CODE_BY_STATUS[status];
  if (code) return code;
  return status >= 400 && status < 500 ? ErrorCode.BadRequest : ErrorCode.InternalError;
}
