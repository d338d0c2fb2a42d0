import { HttpException, HttpStatus } from '@nestjs/common';
import { ErrorCode, ErrorReason } from './error-code';

export interface FieldError {
  field: string;
  message: string;
}

const STATUS_BY_CODE: Record<ErrorCode, number> = {
  bad_request: HttpStatus.BAD_REQUEST,
  unauthorized: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  not_found: HttpStatus.NOT_FOUND,
  conflict: HttpStatus.CONFLICT,
  validation_error: HttpStatus.UNPROCESSABLE_ENTITY,
  payload_too_large: HttpStatus.PAYLOAD_TOO_LARGE,
  rate_limited: HttpStatus.TOO_MANY_REQUESTS,
  internal_error: HttpStatus.INTERNAL_SERVER_ERROR,
  service_unavailable: HttpStatus.SERVICE_UNAVAILABLE,
};

export interface AppExceptionOptions {
  /** Documented fields added to the body (e.g. `details`, `checks`). */
  extra?: Record<string, unknown>;
  /** A finer cause where one code covers several cases; absent from the body unless given. */
  reason?: ErrorReason;
  /** Defaults to the code's status. */
  status?: number;
  /** See AppException.overloaded. */
  shedsLoad?: boolean;
}

/**
 * A domain error with a stable code. Its message is shown to the client, so it must never carry secrets or
 * internals.
 */
export class AppException extends HttpException {
  /** Response headers that belong to this error, e.g. `Retry-After` on a 503. */
  readonly headers: Record<string, string> = {};
  readonly extra: Record<string, unknown>;
  /** The body's `reason`. Public, unlike the log-only reasons some subclasses carry (e.g. why a path was refused). */
  readonly publicReason: ErrorReason | undefined;
  /** A 503 answered on purpose to shed load (see `overloaded`), not a fault. */
  readonly shedsLoad: boolean;

  constructor(
    readonly code: ErrorCode,
    message: string,
    options: AppExceptionOptions = {},
  ) {
    super(message, options.status ?? STATUS_BY_CODE[code]);
    this.extra = options.extra ?? {};
    this.publicReason = options.reason;
    this.shedsLoad = options.shedsLoad ?? false;
  }

  static validation(details: FieldError[], message = 'Request validation failed'): AppException {
    return new AppException(ErrorCode.ValidationError, message, { extra: { details } });
  }

  /** One refused field, named in the message too: `wasm: must be standard base64 with padding`. */
  static invalidField(field: string, message: string): AppException {
    return AppException.validation([{ field, message }], `${field}: ${message}`);
  }

  static notFound(message = 'Resource not found'): AppException {
    return new AppException(ErrorCode.NotFound, message);
  }

  /** 503 `service_unavailable` with `Retry-After` in whole seconds (1–3600, rounded up): a fault, logged as one. */
  static unavailable(message: string, retryAfterMs: number, reason?: ErrorReason): AppException {
    return withRetryAfter(new AppException(ErrorCode.ServiceUnavailable, message, { reason }), retryAfterMs);
  }

  /**
   * A 503 with `Retry-After` that the server answers on purpose to shed load (a full queue, the stream cap,
   * shutting down): its request line is a warning, like a 429's. A dependency failing stays `unavailable`.
   */
  static overloaded(message: string, retryAfterMs: number, reason?: ErrorReason): AppException {
    const error = new AppException(ErrorCode.ServiceUnavailable, message, { reason, shedsLoad: true });
    return withRetryAfter(error, retryAfterMs);
  }
}

function withRetryAfter(error: AppException, retryAfterMs: number): AppException {
  const seconds = Number.isFinite(retryAfterMs) ? Math.ceil(retryAfterMs / 1000) : 3600;
  error.headers['Retry-After'] = String(Math.min(3600, Math.max(1, seconds)));
  return error;
}
