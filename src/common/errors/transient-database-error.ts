/**
 * Whether a failure says the database is briefly unavailable rather than that the request is wrong: a lost or
 * refused connection, a server shutting down or starting, a pool out of connections, a deadlock or a
 * serialization failure. Such a request is worth retrying, so it is answered 503 with `Retry-After`, never
 * 500. Reads the error and its TypeORM `driverError`; knows no feature.
 */
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
]);
const TRANSIENT_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']);
const TRANSIENT_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /the database system is (starting up|shutting down|in recovery mode)/i,
  /terminating connection/i,
  // pg's own, after DB_QUERY_TIMEOUT_SECS without an answer: the server went silent (its connection is closed).
  /^Query read timeout$/,
];

/**
 * Node's error for a request body the client stopped sending (its connection closed before Content-Length
 * bytes came): `aborted`, code ECONNRESET like a database socket's reset, but with no syscall — a socket's
 * reset reads `read ECONNRESET` and names its syscall. The request is gone, not the database: never a 503.
 */
export function isClientAbort(error: unknown): boolean {
  const { code, message, syscall } = (error ?? {}) as {
    code?: unknown;
    message?: unknown;
    syscall?: unknown;
  };
  return code === 'ECONNRESET' && message === 'aborted' && syscall === undefined;
}

export function isTransientDatabaseError(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 4; depth++) {
    if (isClientAbort(current)) return false;
    const { code, message } = current as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (TRANSIENT_SQLSTATES.has(code) || TRANSIENT_NETWORK_CODES.has(code) || code.startsWith('08'))
        return true;
    }
    if (typeof message === 'string' && TRANSIENT_MESSAGES.some((pattern) => pattern.test(message)))
      return true;
    current =
      (current as { driverError?: unknown; cause?: unknown }).driverError ??
      (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Deadlock or serialization failure: the transaction was rolled back whole and may simply run again. */
export function isRetryableConflict(error: unknown): boolean {
  const code =
    (error as { code?: unknown; driverError?: { code?: unknown } } | null)?.driverError?.code ??
    (error as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001';
}
