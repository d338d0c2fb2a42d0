import { PipeTransform } from '@nestjs/common';
import { AppException } from '../errors/app.exception';
import { refuseAfterOtherParameters } from './pipe-order';
import { RequestHeader } from './request-header';

/** An `Idempotency-Key` header: 1–255 printable ASCII characters (no spaces), as for task submissions. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** The same rule for the OpenAPI document (an ECMA-262 pattern, as JSON Schema's). */
export const IDEMPOTENCY_KEY_SCHEMA = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  pattern: IDEMPOTENCY_KEY_PATTERN.source,
};

/** Absent stays undefined; a malformed key is a 422 naming the header. */
export class IdempotencyKeyPipe implements PipeTransform<unknown, Promise<string | undefined>> {
  async transform(value: unknown): Promise<string | undefined> {
    if (value === undefined) return undefined;
    if (typeof value === 'string' && IDEMPOTENCY_KEY_PATTERN.test(value)) return value;
    return refuseAfterOtherParameters(
      AppException.invalidField(
        'Idempotency-Key',
        'Idempotency-Key must be 1–255 printable ASCII characters',
      ),
    );
  }
}

/** The request's `Idempotency-Key` header, checked (`IdempotencyKeyPipe`). */
export const IdempotencyKey = (): ParameterDecorator =>
  RequestHeader('idempotency-key', new IdempotencyKeyPipe());
