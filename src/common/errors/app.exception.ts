import { HttpException, HttpStatus } from '@nestjs/common';
import { ErrorCode } from './error-code';

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

/**
 * A domain error with a stable code. Its message is shown to the client, so it must never carry secrets or
 * internals; `extra` adds documented fields to the body (e.g. `details`, `checks`).
 */
export class AppException extends HttpException {
  /** Response headers that belong to this error, e.g. `Retry-After` on a 503. */
  readonly headers: Record<string, string> = {};

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
    status: number = STATUS_BY_CODE[code],
  ) {
    super(message, status);
  }

  static validation(details: FieldError[], message = 'Request validation failed'): AppException {
    return new AppException(ErrorCode.ValidationError, message, { details });
  }

  static notFound(message = 'Resource not found'): AppException {
    return new AppException(ErrorCode.NotFound, message);
  }

  /** 503 `service_unavailable` with `Retry-After` in whole seconds (1–3600, rounded up). */
  static unavailable(message: string, retryAfterMs: number): AppException {
    const error = new AppException(ErrorCode.ServiceUnavailable, message);
    const seconds = Number.isFinite(retryAfterMs) ? Math.ceil(retryAfterMs / 1000) : 3600;
    error.headers['Retry-After'] = String(Math.min(3600, Math.max(1, seconds)));
    return error;
  }
}
